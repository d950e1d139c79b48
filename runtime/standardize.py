"""Text -> words: the standardization rules a `tokenizer.json` names in its "standardize" field.

A rule never changes once released: a tokenizer file names its rule, so the ids of
a trained model's texts stay what they were at training. The rules:

* ``nfkc-casefold-br-punct-v1``: ``<br />`` tags (any case, spacing, with or without
  the slash) to spaces, Unicode NFKC, case folding, every punctuation or symbol
  character (categories P*, S*) except the apostrophe to a space, split on
  whitespace. Text in a script written without spaces (Chinese, Japanese) becomes
  one word per run of characters, which a word vocabulary cannot learn from.
* ``nfkc-casefold-br-punct-cjk-v2`` (what new runs use): the same, then every
  character of a script written without spaces between words (Han ideographs,
  Hiragana, Katakana, Bopomofo: `CHARACTER_SCRIPTS`) is a word of its own, as
  BERT-style tokenizers do for Chinese. Hangul is written with spaces, so Korean
  keeps its words. English, other space-separated scripts and punctuation give
  the same words as v1.
* ``keras-text-vectorization-v1``: what a Keras 3 ``TextVectorization`` layer does with its
  defaults ``standardize="lower_and_strip_punctuation"``, ``split="whitespace"``, which run
  TensorFlow's ``tf.strings.lower`` (ASCII only: ``A``-``Z`` become ``a``-``z``, every other
  character, ``É`` too, stays as it is), then delete (not replace by a space) the 32 ASCII
  punctuation characters of ``string.punctuation`` (so ``don't`` is ``dont`` and ``<br />`` is
  ``br``), then ``tf.strings.split`` at runs of the six ASCII spaces `` \t\n\v\f\r`` only
  (``U+00A0`` and the other Unicode spaces are part of a word). Measured on every code point
  with TensorFlow 2.21 / Keras 3.15, and checked against the layer by tests/test_text_vectorization.py.
* ``keras-imdb-v1``: the preprocessing that built Keras' ``imdb.npz``: lower case,
  ASCII punctuation except the apostrophe and tab/newline to spaces (``<br />``
  leaves the word ``br``), split on single spaces (so runs of spaces give empty
  words, which no index holds).

How it is fast (same words as the per-character definition, checked by
tests/test_tokenizer_equivalence.py): an ASCII text needs no normalization and its
punctuation is a fixed set, so it takes ``str.translate`` with a complete ASCII
table (CPython's ASCII fast path) and one ``split``. Other texts are normalized,
then read as an array of code points: a table says which are separators (filled by
Unicode blocks of 256 code points the first time a text uses a block, since
categorising all 1.1 M code points up front would cost a fraction of a second at
start-up) and, for the CJK rule, which are words of their own.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import numpy as np

from edgelstm.core.errors import ConfigError

RULE_V1 = "nfkc-casefold-br-punct-v1"
RULE_CJK = "nfkc-casefold-br-punct-cjk-v2"
RULE_KERAS = "keras-imdb-v1"
RULE_TEXT_VECTORIZATION = "keras-text-vectorization-v1"
VOCAB_RULES = (RULE_V1, RULE_CJK, RULE_TEXT_VECTORIZATION)
# What `Tokenizer.fit` (so every new run) uses.
DEFAULT_VOCAB_RULE = RULE_CJK

# Scripts written without spaces between words, whose characters are words under RULE_CJK:
# inclusive code point ranges (Unicode blocks), with what they hold.
CHARACTER_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x2E80, 0x2FDF, "CJK Radicals Supplement, Kangxi Radicals"),
    (0x3005, 0x3007, "ideographic iteration and closing marks, ideographic zero"),
    (0x3021, 0x3029, "Hangzhou numerals"),
    (0x3031, 0x3035, "kana repeat marks"),
    (0x303B, 0x303C, "vertical ideographic iteration mark, masu mark"),
    (0x3040, 0x30FF, "Hiragana, Katakana"),
    (0x3100, 0x312F, "Bopomofo"),
    (0x31A0, 0x31BF, "Bopomofo Extended"),
    (0x31F0, 0x31FF, "Katakana Phonetic Extensions"),
    (0x3400, 0x4DBF, "CJK Unified Ideographs Extension A"),
    (0x4E00, 0x9FFF, "CJK Unified Ideographs"),
    (0xF900, 0xFAFF, "CJK Compatibility Ideographs"),
    (0xFF66, 0xFF9F, "Halfwidth Katakana (NFKC makes most of them full width first)"),
    (0x1AFF0, 0x1B16F, "Kana Extended-B, Kana Supplement, Kana Extended-A, Small Kana Extension"),
    (0x20000, 0x323AF, "CJK Unified Ideographs Extensions B-H, CJK Compatibility Ideographs Supplement"),
)

APOSTROPHE = "'"
_BR_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_CODE_POINTS = 0x110000
_BLOCK_BITS = 8  # separators are categorised 256 code points at a time
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"  # native order: numpy reads it as uint32
_SPACE = 0x20


def is_separator(char: str) -> bool:
    """The per-character definition of the vocab rules: punctuation or symbol, not the apostrophe."""
    return char != APOSTROPHE and unicodedata.category(char)[0] in "PS"


_ASCII_SEPARATORS = "".join(c for c in map(chr, range(128)) if is_separator(c))
# Complete (every ASCII code point present), so str.translate stays on CPython's ASCII fast path.
_ASCII_TABLE = {i: (0x20 if chr(i) in _ASCII_SEPARATORS else i) for i in range(128)}
_KERAS_SEPARATORS = "".join(c for c in map(chr, range(128)) if c in _ASCII_SEPARATORS or c in "\t\n")
_KERAS_ASCII_TABLE = {i: (0x20 if chr(i) in _KERAS_SEPARATORS else i) for i in range(128)}
_KERAS_PATTERN = re.compile("[" + re.escape(_KERAS_SEPARATORS) + "]")
# RULE_TEXT_VECTORIZATION: tf.strings.lower's A-Z, the strip regex's characters deleted, TF's split spaces.
_TF_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # string.punctuation, the Keras strip regex's set
_TEXT_VECTORIZATION_TABLE = {**{code: code + 0x20 for code in range(ord("A"), ord("Z") + 1)},
                             **{ord(char): None for char in _TF_PUNCTUATION}}
_TF_SPACES = " \t\n\v\f\r"
_TF_WORD = re.compile(f"[^{re.escape(_TF_SPACES)}]+")


class _CodePoints:
    """Per code point: is it a separator (`is_separator`), is it a word of its own (RULE_CJK)?

    Separators are categorised lazily, 256 code points (one block) at a time, the first
    time a text uses the block; the tables are 1.1 MB each, allocated untouched (zero
    pages) until used. Safe to share between threads: a block's values are written
    before it is marked known, and writing them twice writes the same values.
    """

    def __init__(self) -> None:
        self._separator = np.zeros(_CODE_POINTS, dtype=bool)
        self._known_block = np.zeros(_CODE_POINTS >> _BLOCK_BITS, dtype=bool)
        self._character_word: np.ndarray | None = None

    def separators(self, codes: np.ndarray) -> np.ndarray:
        blocks = codes >> _BLOCK_BITS
        known = self._known_block[blocks]
        if not known.all():
            for block in np.unique(blocks[~known]).tolist():
                first = block << _BLOCK_BITS
                chars = map(chr, range(first, first + (1 << _BLOCK_BITS)))
                self._separator[first:first + (1 << _BLOCK_BITS)] = [is_separator(c) for c in chars]
                self._known_block[block] = True
        return self._separator[codes]

    def character_words(self, codes: np.ndarray) -> np.ndarray:
        if self._character_word is None:
            table = np.zeros(_CODE_POINTS, dtype=bool)
            for low, high, _ in CHARACTER_SCRIPTS:
                table[low:high + 1] = True
            self._character_word = table
        return self._character_word[codes]


_CODE_POINT_TABLES = _CodePoints()


def _replace_separators(text: str, rule: str) -> str:
    """`text` (not ASCII) with each separator a space and, under RULE_CJK, each character word spaced apart."""
    codes = np.frombuffer(text.encode(_UTF32, "surrogatepass"), dtype=np.uint32)
    separator = _CODE_POINT_TABLES.separators(codes)
    out = codes.copy()
    out[separator] = _SPACE
    if rule == RULE_CJK:
        alone = _CODE_POINT_TABLES.character_words(codes) & ~separator
        if alone.any():
            out = _space_apart(out, alone)
    return out.tobytes().decode(_UTF32, "surrogatepass")


def _space_apart(codes: np.ndarray, alone: np.ndarray) -> np.ndarray:
    """`codes` with a space inserted before and after each position where `alone` is True."""
    step = alone.astype(np.intp)
    before = np.cumsum(step) - step  # marked positions strictly before each one
    spaced = np.full(len(codes) + 2 * int(step.sum()), _SPACE, dtype=np.uint32)
    spaced[np.arange(len(codes)) + 2 * before + step] = codes
    return spaced


def check_rule(rule: str) -> str:
    if rule not in VOCAB_RULES:
        raise ConfigError(f"unknown standardize rule {rule!r} for a vocab tokenizer: accepted are {', '.join(VOCAB_RULES)}")
    return rule


def standardize(text: str, rule: str = DEFAULT_VOCAB_RULE) -> list[str]:
    """The words of `text` under a vocab rule (module docstring)."""
    if rule == RULE_TEXT_VECTORIZATION:
        return text_vectorization_words(text)
    if text.isascii():
        # NFKC leaves ASCII unchanged and case folding is lower(): only tags and punctuation remain.
        if "<" in text:
            text = _BR_TAG.sub(" ", text)
        return text.lower().translate(_ASCII_TABLE).split()
    text = unicodedata.normalize("NFKC", _BR_TAG.sub(" ", text)).casefold()
    if text.isascii():  # full-width letters and the like become ASCII
        return text.translate(_ASCII_TABLE).split()
    return _replace_separators(text, rule).split()


def text_vectorization_words(text: str) -> list[str]:
    """Split text exactly as Keras 3's default TextVectorization does (rule keras-text-vectorization-v1)."""
    return _TF_WORD.findall(text.translate(_TEXT_VECTORIZATION_TABLE))


def keras_imdb_words(text: str) -> list[str]:
    """Split text exactly as the Keras IMDB preprocessing did (rule keras-imdb-v1)."""
    text = text.lower()
    if text.isascii():
        return text.translate(_KERAS_ASCII_TABLE).split(" ")
    return _KERAS_PATTERN.sub(" ", text).split(" ")


def ends_word(char: str, rule: str) -> bool:
    """True when `char` always ends a word under `rule`, so a cut beside it cuts no word."""
    if rule == RULE_TEXT_VECTORIZATION:
        return char in _TF_SPACES
    return char in " \t\n" if rule == RULE_KERAS else char.isspace()
