"""The built-in corpus: deterministic, balanced, and a fair test of memory (no TensorFlow)."""

from __future__ import annotations

import collections

import pytest

from edgelstm.runtime.tokenizer import standardize
from edgelstm.train import lexicon, synthetic

SENTIMENT_WORDS = synthetic.sentiment_words()


def side_words(side: int) -> set[str]:
    """Every single sentiment word of one polarity (adjectives, verbs, nouns)."""
    words = {w for part in synthetic.words().values() for w in part[side]}
    return words | {synthetic.EVERYDAY_VERBS[v] for v in synthetic.words()["verbs"][side]}


@pytest.fixture(scope="module")
def corpus():
    return synthetic.generate(2000, seed=7)


def test_same_seed_same_corpus_other_seed_other_corpus(corpus):
    assert synthetic.generate(2000, seed=7) == corpus
    assert [e.text for e in synthetic.generate(2000, seed=8)] != [e.text for e in corpus]


def test_balanced_distinct_and_every_kind_present(corpus):
    labels = collections.Counter(e.label for e in corpus)
    assert labels[0] == labels[1] == 1000
    assert len({e.text for e in corpus}) == len(corpus)
    kinds = collections.Counter(e.kind for e in corpus)
    for kind, share in synthetic.KINDS.items():
        assert abs(kinds[kind] / len(corpus) - share) < 0.01


def test_filler_is_neutral():
    rng = synthetic.random.Random(0)
    for _ in range(300):
        assert not set(synthetic._filler(rng).split()) & SENTIMENT_WORDS


def test_distant_cues_are_out_of_reach_of_a_model_without_memory(corpus):
    """The last DISTANT_MIN_TOKENS tokens of a distant review carry no sentiment word: a model
    that only sees them is at chance on these reviews."""
    distant = [e for e in corpus if e.kind == "distant"]
    assert len(distant) > 100
    for example in distant:
        tokens = standardize(example.text)
        assert not set(tokens[-synthetic.DISTANT_MIN_TOKENS:]) & SENTIMENT_WORDS, example.text
        assert set(tokens[:-synthetic.DISTANT_MIN_TOKENS]) & SENTIMENT_WORDS, example.text


def test_negated_reviews_use_adjectives_of_the_other_label(corpus):
    for example in (e for e in corpus if e.kind == "negated"):
        words = set(standardize(example.text))
        own, other = side_words(example.label), side_words(1 - example.label)
        assert words & other and not words & own, example.text


def test_every_sentiment_word_takes_its_side_from_the_lexicon():
    """The lexicon, not the project, decides polarity (except the few film words it lacks)."""
    own_calls = {w for ws in synthetic.PROJECT_ADJECTIVES.values() for w in ws}
    for side in (0, 1):
        for word in side_words(side) - own_calls - set(synthetic.EVERYDAY_VERBS.values()):
            assert lexicon.polarity(word) == side, word
    assert lexicon.polarity("solid") is None and "solid" not in side_words(1)  # too mild a rating


def test_the_corpus_speaks_everyday_english(corpus):
    """The words a new user types first are among the most frequent of the corpus, so even a
    small vocabulary holds them, and the lexicon's wider words make a large vocabulary."""
    counts = collections.Counter(token for e in corpus for token in standardize(e.text))
    frequent = {word for word, _ in counts.most_common(300)}
    assert {"good", "great", "bad", "terrible", "dull", "movie", "film", "not", "but", "loved"} <= frequent
    assert {"not", "good"} <= set(standardize(" ".join(e.text for e in corpus if e.kind == "short")))


def test_negation_flips_and_contrast_decides(corpus):
    """At the default size: 'not bad' and 'not good' with opposite labels, over 900 words."""
    default = synthetic.generate(20000, seed=1)
    assert len({token for e in default for token in standardize(e.text)}) > 900
    texts = {e.text.rstrip(" ."): e.label for e in default}
    assert texts.get("not bad") == 1 and texts.get("not good") == 0
    assert any(" but " in e.text for e in corpus if e.kind == "contrast")
