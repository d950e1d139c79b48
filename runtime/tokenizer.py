"""Turn raw text into the fixed-length id sequences the model reads.

Pure Python and numpy, so training and the device tokenize the same way by
construction. Two kinds, both saved as `tokenizer.json`:

* ``vocab``: a vocabulary fitted on the training texts, on the words of one
  standardization rule (`edgelstm.runtime.standardize`; the file names it, and
  new runs use ``nfkc-casefold-br-punct-cjk-v2``: Chinese and Japanese
  characters are words of their own). Ids: 0 = padding, 1 = out-of-vocabulary,
  then words by descending count (ties alphabetical), up to ``vocab_size`` ids.
* ``keras-imdb``: the encoding of ``keras.datasets.imdb.load_data`` so a model
  trained on ``imdb.npz`` classifies raw text: rule ``keras-imdb-v1``, words
  missing from the index dropped, rank ``r`` -> ``r + 3``, 1 = start marker
  first, ids ``>= num_words`` -> 2 (out-of-vocabulary).

Both then pad and truncate at the front, like Keras' ``pad_sequences``
defaults: a long text keeps its last ``maxlen`` tokens, a short one is
preceded by padding ids.

Since only ``maxlen`` tokens survive truncation, a long text is read from the
kept end in growing windows until enough tokens are found: the result is the
same as tokenizing it whole, in time and memory bounded by ``MAX_SCAN_CHARS``
however long the text. A text whose last (first, with ``truncating="post"``)
``MAX_SCAN_CHARS`` characters hold fewer than ``maxlen`` tokens is read from
that many characters only.

File versions: ``format_version`` is the oldest reader that encodes the file
exactly, so a reader that would misread a rule refuses the file instead.
Version 1 knows ``nfkc-casefold-br-punct-v1`` and ``keras-imdb-v1``; version 2
adds ``nfkc-casefold-br-punct-cjk-v2``; version 3 adds ``keras-text-vectorization-v1`` (a
Keras ``TextVectorization`` layer's vocabulary, padded and truncated at the end, ``post``). Files keep their rule when loaded and
saved again, so their ids never change.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np

from edgelstm.core.errors import BundleError, ConfigError, InputError
from edgelstm.runtime.standardize import (
    DEFAULT_VOCAB_RULE,
    RULE_CJK,
    RULE_KERAS,
    RULE_TEXT_VECTORIZATION,
    RULE_V1,
    check_rule,
    ends_word,
    keras_imdb_words,
    standardize,
)

# The newest format this edgelstm writes and reads, and the version each rule needs.
TOKENIZER_FORMAT_VERSION = 3
RULE_FORMAT_VERSIONS = {RULE_V1: 1, RULE_KERAS: 1, RULE_CJK: 2, RULE_TEXT_VECTORIZATION: 3}
PADDING_ID = 0
VOCAB_OOV_ID = 1
KERAS_START_ID, KERAS_OOV_ID, KERAS_INDEX_FROM = 1, 2, 3
PADDING_SIDES = ("pre", "post")
KINDS = ("vocab", "keras-imdb")

# Long texts are read in windows of this many characters per kept token, growing
# 4x, and never more than MAX_SCAN_CHARS characters: the memory bound of one text.
WINDOW_CHARS_PER_TOKEN = 16
MAX_SCAN_CHARS = 4 * 1024 * 1024

__all__ = ["KERAS_OOV_ID", "KERAS_START_ID", "MAX_SCAN_CHARS", "PADDING_ID", "TOKENIZER_FORMAT_VERSION",
           "VOCAB_OOV_ID", "Tokenizer", "keras_imdb_words", "pad_ids", "standardize"]


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
    # The standardization rule (edgelstm.runtime.standardize), the file's "standardize";
    # None: what new tokenizers of the kind use.
    rule: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown tokenizer kind {self.kind!r}: accepted are 'vocab' and 'keras-imdb'")
        if self.maxlen < 1 or self.vocab_size < 3:
            raise ConfigError(f"tokenizer needs maxlen >= 1 and vocab_size >= 3, got {self.maxlen} and {self.vocab_size}")
        for side in (self.padding, self.truncating):
            if side not in PADDING_SIDES:
                raise ConfigError(f"padding/truncating side {side!r} is not one of {PADDING_SIDES}")
        if self.kind == "vocab":
            self.rule = check_rule(self.rule or DEFAULT_VOCAB_RULE)
        elif self.rule not in (None, RULE_KERAS):
            raise ConfigError(f"a keras-imdb tokenizer uses the rule {RULE_KERAS!r}, not {self.rule!r}")
        else:
            self.rule = RULE_KERAS
        # word -> final id, so encoding is one dict lookup per word.
        self._ids = dict(zip(self.words, range(2, len(self.words) + 2)))  # built at C speed: 10,000 words at load
        if self.kind == "keras-imdb":
            self._ids = {word: (rank + KERAS_INDEX_FROM if rank + KERAS_INDEX_FROM < self.vocab_size else KERAS_OOV_ID)
                         for word, rank in self.word_index.items()}

    @classmethod
    def fit(cls, texts: Iterable[str], *, vocab_size: int, maxlen: int, rule: str = DEFAULT_VOCAB_RULE) -> Tokenizer:
        """Fit a ``vocab`` tokenizer on training texts only, with standardization `rule`."""
        check_rule(rule)
        counts: collections.Counter[str] = collections.Counter()
        for position, text in enumerate(texts):
            counts.update(standardize(_check_text(text, position), rule))
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        words = [word for word, _ in ranked[: vocab_size - 2]]
        return cls(kind="vocab", maxlen=maxlen, vocab_size=vocab_size, words=words, rule=rule)

    @classmethod
    def from_keras_word_index(cls, word_index: dict[str, int], *, num_words: int, maxlen: int) -> Tokenizer:
        """The Keras IMDB encoding of ``imdb.load_data(num_words=num_words)``."""
        return cls(kind="keras-imdb", maxlen=maxlen, vocab_size=num_words, word_index=dict(word_index))

    def split_words(self, text: str) -> list[str]:
        """The words of `text` under this tokenizer's rule, before the vocabulary."""
        return standardize(text, self.rule) if self.kind == "vocab" else keras_imdb_words(text)

    def tokens_to_ids(self, text: str) -> list[int]:
        """Ids of one whole text before padding and truncation."""
        return self._ids_of(self.split_words(text), start=True)

    def kept_ids(self, text: str) -> list[int]:
        """The ids of `text` that survive truncation to ``maxlen``, reading no more of it than needed."""
        size = min(WINDOW_CHARS_PER_TOKEN * self.maxlen, MAX_SCAN_CHARS)
        while size < len(text):
            ids = self._window_ids(text, size, enough_only=size < MAX_SCAN_CHARS)
            if ids is not None:
                return ids
            size = min(4 * size, MAX_SCAN_CHARS)
        words = self.split_words(text)
        if self.kind == "vocab":  # one id per word: cut before looking up
            return self._ids_of(self._truncate(words), start=True)
        return self._truncate(self._ids_of(words, start=True))

    def _truncate(self, ids: list) -> list:
        if len(ids) <= self.maxlen:
            return ids
        return ids[-self.maxlen:] if self.truncating == "pre" else ids[:self.maxlen]

    def _window_ids(self, text: str, size: int, *, enough_only: bool) -> list[int] | None:
        """Ids from the kept end's `size` characters, or None if they hold fewer than ``maxlen``.

        The word at the window's edge is dropped unless a character that always ends a
        word lies just outside the edge, so every word left is whole and the same as in
        the full text.
        """
        pre = self.truncating == "pre"
        words = self.split_words(text[-size:] if pre else text[:size])
        if not ends_word(text[-size - 1] if pre else text[size], self.rule):
            words = words[1:] if pre else words[:-1]
        if self.kind == "vocab":
            if enough_only and len(words) < self.maxlen:
                return None
            return self._ids_of(self._truncate(words), start=False)
        ids = self._ids_of(words, start=not pre)
        if enough_only and len(ids) < self.maxlen:
            return None
        return self._truncate(ids)

    def _ids_of(self, words: list[str], *, start: bool) -> list[int]:
        if self.kind == "vocab":
            return list(map(self._ids.get, words, repeat(VOCAB_OOV_ID)))
        ids = [KERAS_START_ID] if start else []
        ids += [token for token in map(self._ids.get, words) if token is not None]  # absent words dropped, as Keras did
        return ids

    def encode(self, texts: Sequence[str] | str) -> np.ndarray:
        """Texts -> int32 array [len(texts), maxlen], padded and truncated at the front."""
        return self.encode_with_lengths(texts)[0]

    def encode_with_lengths(self, texts: Sequence[str] | str) -> tuple[np.ndarray, np.ndarray]:
        """(ids int32 [n, maxlen] as `encode` gives them, real lengths int32 [n] as `lengths` gives them)."""
        if isinstance(texts, str):
            texts = [texts]
        elif not isinstance(texts, (list, tuple)):
            texts = list(texts)
        ids = np.zeros((len(texts), self.maxlen), dtype=np.int32)  # PADDING_ID everywhere, then the tokens
        lengths = np.zeros(len(texts), dtype=np.int32)
        for row, text in enumerate(texts):
            lengths[row] = self._fill_row(ids[row], self.kept_ids(_check_text(text, row)))
        return ids, lengths

    def encode_one(self, text: str) -> tuple[np.ndarray, int]:
        """One text -> (ids int32 [1, maxlen], its real length): `encode_with_lengths([text])` without the
        batch's list and length array (the batch-1 lane of `Classifier.predict_proba`)."""
        ids = np.zeros((1, self.maxlen), dtype=np.int32)
        return ids, self._fill_row(ids[0], self.kept_ids(_check_text(text, 0)))

    def _fill_row(self, row: np.ndarray, kept: list[int]) -> int:
        """Write `kept` into a row of padding on the padding side; returns its length."""
        count = len(kept)
        if count:
            if self.padding == "pre":
                row[self.maxlen - count:] = kept
            else:
                row[:count] = kept
        return count

    def lengths(self, texts: Sequence[str]) -> np.ndarray:
        """Real (unpadded, truncated) lengths of texts, for length-aware batching."""
        return np.asarray([len(self.kept_ids(_check_text(t, i))) for i, t in enumerate(texts)], dtype=np.int32)

    def to_dict(self) -> dict:
        data = {"format_version": RULE_FORMAT_VERSIONS[self.rule], "kind": self.kind, "maxlen": self.maxlen,
                "vocab_size": self.vocab_size, "padding": self.padding, "truncating": self.truncating,
                "padding_id": PADDING_ID}
        if self.kind == "vocab":
            data.update(oov_id=VOCAB_OOV_ID, standardize=self.rule, words=self.words)
        else:
            data.update(oov_id=KERAS_OOV_ID, start_id=KERAS_START_ID, index_from=KERAS_INDEX_FROM,
                        standardize=self.rule, word_index=self.word_index)
        return data

    @classmethod
    def from_dict(cls, data: dict, *, name: str = "tokenizer.json") -> Tokenizer:
        """A tokenizer from its saved form, every field's type and range checked (BundleError naming it)."""
        if not isinstance(data, dict):
            raise BundleError(f"{name} does not hold a JSON object")
        version = data.get("format_version")
        if type(version) is not int or not 1 <= version <= TOKENIZER_FORMAT_VERSION:
            raise BundleError(f"{name}: format_version {repr(version)[:20]} is not supported: this edgelstm reads "
                              f"versions 1 to {TOKENIZER_FORMAT_VERSION}; upgrade edgelstm to read a newer file")
        fields = _checked_fields(data, name)
        fields["rule"] = _file_rule(data, version, name)
        try:
            return cls(**fields)
        except ConfigError as error:
            raise BundleError(f"{name}: {error}") from None

    @classmethod
    def from_json(cls, data: bytes, *, name: str = "tokenizer.json") -> Tokenizer:
        """A tokenizer parsed from exactly these bytes (a bundle's checked tokenizer.json)."""
        from edgelstm.runtime.safeload import parse_json

        return cls.from_dict(parse_json(data, name), name=name)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
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


def _file_rule(data: dict, version: int, name: str) -> str:
    """The rule a tokenizer file names; version 1 files written before the field existed mean their kind's v1 rule."""
    rule = data.get("standardize")
    if rule is None and version == 1:
        return RULE_KERAS if data.get("kind") == "keras-imdb" else RULE_V1
    if not isinstance(rule, str) or rule not in RULE_FORMAT_VERSIONS:
        raise BundleError(f"{name} names the standardize rule {str(rule)[:60]!r}, which this edgelstm does not know "
                          f"(it knows {', '.join(RULE_FORMAT_VERSIONS)}): upgrade edgelstm")
    if version < RULE_FORMAT_VERSIONS[rule]:
        raise BundleError(f"{name} has format_version {version} but its rule {rule!r} needs "
                          f"format_version {RULE_FORMAT_VERSIONS[rule]}: the file is inconsistent")
    return rule
