"""The tokenizer as it was before the speed rewrite (commit 26b28d2), frozen as the reference.

Not used by the runtime: tests/test_tokenizer_equivalence.py checks that the runtime's
encoder gives exactly these ids for the rules this encoder knew ("nfkc-casefold-br-punct-v1"
and "keras-imdb-v1"), on real reviews and on generated Unicode text. Do not "fix" or speed up
this file: its value is that it does not change.
"""

from __future__ import annotations

import collections
import json
import re
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from edgelstm.core.errors import BundleError, ConfigError, InputError

TOKENIZER_FORMAT_VERSION = 1
PADDING_ID = 0
VOCAB_OOV_ID = 1
KERAS_START_ID, KERAS_OOV_ID, KERAS_INDEX_FROM = 1, 2, 3
PADDING_SIDES = ("pre", "post")

# Long texts are read in windows of this many characters per kept token, growing
# 4x, and never more than MAX_SCAN_CHARS characters: the memory bound of one text.
WINDOW_CHARS_PER_TOKEN = 16
MAX_SCAN_CHARS = 4 * 1024 * 1024

_BR_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_KERAS_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation.replace("'", "") + "\t\n"})


def standardize(text: str) -> list[str]:
    """The ``vocab`` kind's standardization, documented in the module docstring."""
    text = unicodedata.normalize("NFKC", _BR_TAG.sub(" ", text)).casefold()
    kept = [c if c == "'" or unicodedata.category(c)[0] not in "PS" else " " for c in text]
    return "".join(kept).split()


def keras_imdb_words(text: str) -> list[str]:
    """Split text exactly as the Keras IMDB preprocessing did."""
    return text.lower().translate(_KERAS_PUNCTUATION).split(" ")


def pad_ids(ids: Sequence[int], maxlen: int, *, padding: str = "pre", truncating: str = "pre") -> list[int]:
    """Cut or pad one id list to ``maxlen`` like Keras ``pad_sequences``."""
    if len(ids) > maxlen:
        ids = ids[-maxlen:] if truncating == "pre" else ids[:maxlen]
    fill = [PADDING_ID] * (maxlen - len(ids))
    return fill + list(ids) if padding == "pre" else list(ids) + fill


def _check_text(text: object, position: int) -> str:
    if isinstance(text, str):
        return text
    raise InputError(
        f"text #{position} is {type(text).__name__}, not str: pass text as str "
        "(decode bytes first, e.g. data.decode('utf-8'))"
    )


@dataclass
class Tokenizer:
    """A fitted tokenizer: ``encode`` turns texts into an int32 [n, maxlen] array."""

    kind: str
    maxlen: int
    vocab_size: int
    padding: str = "pre"
    truncating: str = "pre"
    # vocab kind: words in id order starting at id 2.
    words: list[str] = field(default_factory=list)
    # keras-imdb kind: the full word -> rank index (1 = most frequent); the full index is
    # needed because Keras drops words absent from it but maps rare indexed words to OOV.
    word_index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("vocab", "keras-imdb"):
            raise ConfigError(f"unknown tokenizer kind {self.kind!r}: accepted are 'vocab' and 'keras-imdb'")
        if self.maxlen < 1 or self.vocab_size < 3:
            raise ConfigError(f"tokenizer needs maxlen >= 1 and vocab_size >= 3, got {self.maxlen} and {self.vocab_size}")
        for side in (self.padding, self.truncating):
            if side not in PADDING_SIDES:
                raise ConfigError(f"padding/truncating side {side!r} is not one of {PADDING_SIDES}")
        self._ids = {word: i + 2 for i, word in enumerate(self.words)}

    @classmethod
    def fit(cls, texts: Iterable[str], *, vocab_size: int, maxlen: int) -> "Tokenizer":
        """Fit a ``vocab`` tokenizer on training texts only."""
        counts: collections.Counter[str] = collections.Counter()
        for position, text in enumerate(texts):
            counts.update(standardize(_check_text(text, position)))
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        words = [word for word, _ in ranked[: vocab_size - 2]]
        return cls(kind="vocab", maxlen=maxlen, vocab_size=vocab_size, words=words)

    @classmethod
    def from_keras_word_index(cls, word_index: dict[str, int], *, num_words: int, maxlen: int) -> "Tokenizer":
        """The Keras IMDB encoding of ``imdb.load_data(num_words=num_words)``."""
        return cls(kind="keras-imdb", maxlen=maxlen, vocab_size=num_words, word_index=dict(word_index))

    def tokens_to_ids(self, text: str) -> list[int]:
        """Ids of one whole text before padding and truncation."""
        words = standardize(text) if self.kind == "vocab" else keras_imdb_words(text)
        return self._word_ids(words, start=True)

    def kept_ids(self, text: str) -> list[int]:
        """The ids of `text` that survive truncation to ``maxlen``, reading no more of it than needed."""
        size = min(WINDOW_CHARS_PER_TOKEN * self.maxlen, MAX_SCAN_CHARS)
        while size < len(text):
            ids = self._window_ids(text, size, enough_only=size < MAX_SCAN_CHARS)
            if ids is not None:
                return ids
            size = min(4 * size, MAX_SCAN_CHARS)
        return self._truncate(self.tokens_to_ids(text))

    def _truncate(self, ids: list[int]) -> list[int]:
        if len(ids) <= self.maxlen:
            return ids
        return ids[-self.maxlen:] if self.truncating == "pre" else ids[:self.maxlen]

    def _window_ids(self, text: str, size: int, *, enough_only: bool) -> list[int] | None:
        """Ids from the kept end's `size` characters, or None if they hold fewer than ``maxlen``.

        The word at the window's edge is dropped unless whitespace lies just outside
        the edge, so every word left is whole and the same as in the full text.
        """
        pre = self.truncating == "pre"
        window = text[-size:] if pre else text[:size]
        words = standardize(window) if self.kind == "vocab" else keras_imdb_words(window)
        if not self._separates(text[-size - 1] if pre else text[size]):
            words = words[1:] if pre else words[:-1]
        ids = self._word_ids(words, start=not pre)
        if enough_only and len(ids) < self.maxlen:
            return None
        return self._truncate(ids)

    def _separates(self, char: str) -> bool:
        """True when `char` always ends a word, so a window cut beside it cuts no word."""
        return char.isspace() if self.kind == "vocab" else char in " \t\n"

    def _word_ids(self, words: list[str], *, start: bool) -> list[int]:
        if self.kind == "vocab":
            return [self._ids.get(word, VOCAB_OOV_ID) for word in words]
        ids = [KERAS_START_ID] if start else []
        for word in words:
            rank = self.word_index.get(word)
            if rank is not None:  # absent words are dropped, as Keras did
                token = rank + KERAS_INDEX_FROM
                ids.append(token if token < self.vocab_size else KERAS_OOV_ID)
        return ids

    def encode(self, texts: Sequence[str] | str) -> np.ndarray:
        """Texts -> int32 array [len(texts), maxlen], padded and truncated at the front."""
        if isinstance(texts, str):
            texts = [texts]
        rows = [pad_ids(self.kept_ids(_check_text(t, i)), self.maxlen, padding=self.padding, truncating=self.truncating)
                for i, t in enumerate(texts)]
        return np.asarray(rows, dtype=np.int32).reshape(len(rows), self.maxlen)

    def lengths(self, texts: Sequence[str]) -> np.ndarray:
        """Real (unpadded, truncated) lengths of texts, for length-aware batching."""
        return np.asarray([len(self.kept_ids(_check_text(t, i))) for i, t in enumerate(texts)], dtype=np.int32)

    def to_dict(self) -> dict:
        data = {"format_version": TOKENIZER_FORMAT_VERSION, "kind": self.kind, "maxlen": self.maxlen,
                "vocab_size": self.vocab_size, "padding": self.padding, "truncating": self.truncating,
                "padding_id": PADDING_ID}
        if self.kind == "vocab":
            data.update(oov_id=VOCAB_OOV_ID, standardize="nfkc-casefold-br-punct-v1", words=self.words)
        else:
            data.update(oov_id=KERAS_OOV_ID, start_id=KERAS_START_ID, index_from=KERAS_INDEX_FROM,
                        standardize="keras-imdb-v1", word_index=self.word_index)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Tokenizer":
        version = data.get("format_version")
        if version != TOKENIZER_FORMAT_VERSION:
            raise BundleError(f"tokenizer format_version {version!r} is not supported: this edgelstm reads version {TOKENIZER_FORMAT_VERSION}")
        try:
            return cls(kind=data["kind"], maxlen=int(data["maxlen"]), vocab_size=int(data["vocab_size"]),
                       padding=data.get("padding", "pre"), truncating=data.get("truncating", "pre"),
                       words=list(data.get("words", [])), word_index=dict(data.get("word_index", {})))
        except KeyError as missing:
            raise BundleError(f"tokenizer.json lacks the field {missing}") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as error:
            raise BundleError(f"cannot read tokenizer {path}: {error}") from None
