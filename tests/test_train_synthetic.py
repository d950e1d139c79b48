"""The built-in corpus: deterministic, balanced, and a fair test of memory (no TensorFlow)."""

from __future__ import annotations

import collections

import pytest

from edgelstm.runtime.tokenizer import standardize
from edgelstm.train import synthetic

SENTIMENT_WORDS = set(synthetic.POSITIVE) | set(synthetic.NEGATIVE) | {
    word for phrases in (*synthetic.VERDICTS.values(), *synthetic.NEGATED_VERDICTS.values())
    for phrase in phrases for word in phrase.split()} - {"i", "it", "a", "my", "to", "see", "the", "of", "an"}


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
        pair = (synthetic.POSITIVE, synthetic.NEGATIVE)
        own, other = pair if example.label == 1 else pair[::-1]
        assert words & set(other) and not words & set(own), example.text
