"""The English sentiment vocabulary of the built-in corpus, read from VADER's lexicon.

VADER (Hutto and Gilbert, 2014; package ``vaderSentiment``, MIT licence) rates about 7,500
English words and emoticons from -4 (most negative) to +4 by the mean of ten human raters.
The corpus takes its word polarities from there at build time: nothing of the lexicon is
copied into this project, the package is a dependency of the ``train`` extra.

Two word sets come out of it:

* `rated(words)`: the polarity of the project's own everyday review words (good, dull,
  loved, masterpiece ...); a word VADER does not rate strongly enough is dropped, so the
  lexicon, not this project, decides which side a word is on.
* `adjectives()`: every strongly and consistently rated word that looks like an adjective,
  so a model trained on the corpus knows a wide English vocabulary, not only the core words.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from edgelstm.core.errors import ConfigError

PACKAGE = "vaderSentiment"
FILE = "vader_lexicon.txt"
CREDIT = ("word polarities from VADER (C.J. Hutto and E. Gilbert, ICWSM 2014), "
          "package vaderSentiment, MIT licence")
# |mean rating| a word needs to count as positive or negative (VADER's scale is -4..4;
# 'good' is 1.9, 'boring' -1.3, 'warm' 0.9 and 'solid' 0.6 are too mild to decide a review).
MIN_VALENCE = 1.0
# The wider adjective set: strong ratings the raters agreed on (standard deviation).
WIDE_MIN_VALENCE = 1.5
WIDE_MAX_STDEV = 1.2
# Endings that make a word read as an adjective after "was" ("the plot was ..."), and those
# that do not (adverbs, abstract nouns), so the templates stay English-like without a tagger.
ADJECTIVE_ENDING = re.compile(r"(ful|ous|ive|less|able|ible|ic|ing|ent|ant|al|ish|y)$")
NOT_ADJECTIVE_ENDING = re.compile(r"(ly|ity|ness|ment|ion|ism|ist|ship|ery|ry|ty|cy|fy|ony|gy|nish)$")


@functools.lru_cache(maxsize=1)
def ratings() -> dict[str, tuple[float, float]]:
    """word -> (mean rating, standard deviation) for the lexicon's lower-case alphabetic words."""
    try:
        text = resources.files(PACKAGE).joinpath(FILE).read_text(encoding="utf-8")
    except ModuleNotFoundError:
        raise ConfigError(f"the built-in corpus needs the {PACKAGE} package for its word list: "
                          "pip install 'edgelstm[train]'") from None
    table: dict[str, tuple[float, float]] = {}
    for line in text.splitlines():
        word, mean, stdev, *_ = line.split("\t")
        if re.fullmatch(r"[a-z]+", word):
            table[word] = (float(mean), float(stdev))
    return table


def polarity(word: str) -> int | None:
    """1 positive, 0 negative, None when the lexicon does not rate `word` at least MIN_VALENCE."""
    mean = ratings().get(word, (0.0, 0.0))[0]
    if abs(mean) < MIN_VALENCE:
        return None
    return 1 if mean > 0 else 0


def rated(words: list[str]) -> dict[int, list[str]]:
    """`words` (single words) split by their lexicon polarity; unrated words are left out."""
    split: dict[int, list[str]] = {0: [], 1: []}
    for word in words:
        side = polarity(word)
        if side is not None:
            split[side].append(word)
    return split


@functools.lru_cache(maxsize=1)
def adjectives() -> dict[int, tuple[str, ...]]:
    """Adjective-looking words rated strongly and consistently, by polarity, sorted."""
    split: dict[int, list[str]] = {0: [], 1: []}
    for word, (mean, stdev) in sorted(ratings().items()):
        if abs(mean) < WIDE_MIN_VALENCE or stdev > WIDE_MAX_STDEV or len(word) < 4:
            continue
        if ADJECTIVE_ENDING.search(word) and not NOT_ADJECTIVE_ENDING.search(word):
            split[1 if mean > 0 else 0].append(word)
    return {side: tuple(words) for side, words in split.items()}
