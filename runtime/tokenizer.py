"""Turn raw text into the fixed-length id sequences the model reads.

Pure Python and numpy, so training and the device tokenize the same way by
construction. Two kinds, both saved as `tokenizer.json`:

* ``vocab``: a vocabulary fitted on the training texts. Standardization:
  Unicode NFKC, case folding, ``<br />`` tags to spaces, every punctuation or
  symbol character except the apostrophe to a space, split on whitespace.
  Ids: 0 = padding, 1 = out-of-vocabulary, then words by descending count
  (ties alphabetical), up to ``vocab_size`` ids in all.
* ``keras-imdb``: the encoding of ``keras.datasets.imdb.load_data`` so a model
  trained on ``imdb.npz`` classifies raw text: lower-case, ASCII punctuation
  except the apostrophe to spaces (``<br />`` leaves the word ``br``, as in the
  Keras data), words missing from the index dropped, rank ``r`` -> ``r + 3``,
  1 = start marker first, ids ``>= num_words`` -> 2 (out-of-vocabulary).

Both then pad and truncate at the front, like Keras' ``pad_sequences``
defaults: a long text keeps its last ``maxlen`` tokens, a short one is
preceded by padding ids.

Since only ``maxlen`` tokens survive truncation, a long text is read from the
kept end in growing windows until enough tokens are found: the result is the
same as tokenizing it whole, in time and memory bounded by ``MAX_SCAN_CHARS``
however long the text. A text whose last (first, with ``truncating="post"``)
``MAX_SCAN_CHARS`` characters hold fewer than ``maxlen`` tokens is read from
that many characters only.
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

from edgelstm.runtime.errors import BundleError, ConfigError, InputError

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
    def from_dict(cls, data: dict, *, name: str = "tokenizer.json") -> "Tokenizer":
        """A tokenizer from its saved form, every field's type and range checked (BundleError naming it)."""
        if not isinstance(data, dict):
            raise BundleError(f"{name} does not hold a JSON object")
        version = data.get("format_version")
        if version != TOKENIZER_FORMAT_VERSION or isinstance(version, bool):
            raise BundleError(f"{name}: format_version {repr(version)[:20]} is not supported: this edgelstm reads "
                              f"version {TOKENIZER_FORMAT_VERSION}")
        fields = _checked_fields(data, name)
        try:
            return cls(**fields)
        except ConfigError as error:
            raise BundleError(f"{name}: {error}") from None

    @classmethod
    def from_json(cls, data: bytes, *, name: str = "tokenizer.json") -> "Tokenizer":
        """A tokenizer parsed from exactly these bytes (a bundle's checked tokenizer.json)."""
        from edgelstm.runtime.safeload import parse_json

        return cls.from_dict(parse_json(data, name), name=name)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise BundleError(f"cannot read tokenizer {path}: {error.strerror}") from None
        return cls.from_json(data, name=str(path))


# Bounds of a saved tokenizer's fields: far past any real one, small enough to refuse nonsense.
MAX_TOKENIZER_MAXLEN = 100_000
MAX_TOKENIZER_VOCAB = 10_000_000
MAX_WORD_CHARS = 1_000


def _checked_fields(data: dict, name: str) -> dict:
    """Tokenizer's constructor arguments from `data`, or a BundleError naming the field."""
    kind = data.get("kind")
    if kind not in ("vocab", "keras-imdb"):
        raise BundleError(f"{name}: kind is {str(kind)[:40]!r}; accepted are 'vocab' and 'keras-imdb'")
    fields = {"kind": kind,
              "maxlen": _bounded_int(data.get("maxlen"), "maxlen", 1, MAX_TOKENIZER_MAXLEN, name),
              "vocab_size": _bounded_int(data.get("vocab_size"), "vocab_size", 3, MAX_TOKENIZER_VOCAB, name)}
    for side in ("padding", "truncating"):
        value = data.get(side, "pre")
        if value not in PADDING_SIDES:
            raise BundleError(f"{name}: {side} is {str(value)[:40]!r}; accepted are {', '.join(PADDING_SIDES)}")
        fields[side] = value
    if kind == "vocab":
        fields["words"] = _checked_words(data.get("words"), fields["vocab_size"], name)
    else:
        fields["word_index"] = _checked_word_index(data.get("word_index"), name)
    return fields


def _bounded_int(value: object, field_name: str, low: int, high: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BundleError(f"{name}: {field_name} is {str(value)[:40]!r}; expected an integer from {low} to {high:,}")
    return value


def _checked_words(words: object, vocab_size: int, name: str) -> list[str]:
    """Words in id order from id 2: strings, distinct, and no more than the ids vocab_size leaves."""
    if not isinstance(words, list) or not all(isinstance(w, str) and 0 < len(w) <= MAX_WORD_CHARS for w in words):
        raise BundleError(f"{name}: words must be a list of non-empty strings (at most {MAX_WORD_CHARS} characters)")
    if len(words) > vocab_size - 2:
        raise BundleError(f"{name}: {len(words)} words need ids up to {len(words) + 1}, past vocab_size {vocab_size} "
                          "(the model's embedding rows)")
    if len(set(words)) != len(words):
        raise BundleError(f"{name}: words holds duplicates, so a word would have two ids")
    return words


def _checked_word_index(index: object, name: str) -> dict[str, int]:
    """Keras IMDB ranks: positive integers (a negative rank would wrap into another word's id)."""
    if not isinstance(index, dict):
        raise BundleError(f"{name}: word_index must be an object mapping words to ranks")
    for word, rank in index.items():
        if not word or len(word) > MAX_WORD_CHARS or isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise BundleError(f"{name}: word_index maps {word[:40]!r} to {str(rank)[:20]!r}; ranks are integers >= 1")
    return index
