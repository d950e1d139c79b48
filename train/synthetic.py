"""The built-in corpus: short film reviews the project writes itself, deterministic from a seed.

Every word and template below is this project's own. The corpus is meant to be a fair
test of a recurrent model, so it mixes four kinds of review (shares in `KINDS`):

* ``plain``: opinions whose adjectives carry the sentiment ("the score was superb").
* ``negated``: every opinion is negated ("the score was not superb"), so the
  adjectives point the wrong way and only word order decides the label.
* ``contrast``: an opinion, then "but" and the opposite one; the clause after
  "but" decides ("the cast was dull but the ending was superb" is positive).
* ``distant``: one opinion, then several neutral sentences, so the deciding cue sits
  35 or more tokens before the end: a model without memory of early tokens
  (a short window, or an LSTM truncated to the last few steps) fails on them.

Neutral sentences are added to every kind and never depend on the label. A label's
words also appear in reviews of the other label (negated or before "but"), so no single
word gives the answer away.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

LABEL_NAMES = ("neg", "pos")

# kind -> share of the corpus
KINDS = {"plain": 0.3, "negated": 0.2, "contrast": 0.2, "distant": 0.3}
# Enough neutral sentences after a distant cue to put it >= 35 tokens from the end.
DISTANT_MIN_TOKENS = 35

ASPECTS = ["the story", "the acting", "the score", "the ending", "the pacing", "the dialogue",
           "the camera work", "the cast", "the script", "the lead", "the editing", "the opening",
           "the humour", "the set design", "the final act", "the villain", "the costumes",
           "the direction", "the sound", "the second half"]
POSITIVE = ["superb", "gripping", "charming", "moving", "clever", "delightful", "brilliant",
            "tender", "lovely", "sharp", "warm", "fresh", "stunning", "elegant", "joyful",
            "memorable", "inventive", "heartfelt", "graceful", "wonderful"]
NEGATIVE = ["dull", "clumsy", "tedious", "awful", "bland", "shallow", "messy", "boring",
            "lifeless", "weak", "tiresome", "hollow", "sloppy", "forgettable", "stale",
            "grating", "muddled", "flat", "dreary", "painful"]
INTENSIFIERS = ["", "", "really", "truly", "quite", "rather", "very", "simply", "oddly"]
COPULAS = ["was", "is", "felt", "seemed", "looked", "sounded"]
NEGATIONS = ["not", "never", "hardly", "far from", "not at all", "in no way"]
VERDICTS = {
    1: ["i loved it", "worth every minute", "a real treat", "i would see it again",
        "i left smiling", "my friends should see it"],
    0: ["i hated it", "a waste of an evening", "skip this one", "i want my evening back",
        "i left early", "my friends should avoid it"],
}
NEGATED_VERDICTS = {  # verdicts of one label written with a negation word
    1: ["i did not regret a minute", "i never looked at my watch", "not a minute was wasted"],
    0: ["i would not see it again", "i never want to see it again", "not worth the ticket"],
}

ROLES = ["a baker", "an old sailor", "two sisters", "a young teacher", "a night guard",
         "a travelling singer", "a retired judge", "a farmer", "a clockmaker", "a chess player",
         "a lighthouse keeper", "three cousins"]
ACTIONS = ["moves to", "returns to", "gets lost in", "opens a shop in", "searches for a letter in",
           "spends a winter in", "starts over in", "takes a job in", "inherits a house in"]
PLACES = ["a small town", "a northern port", "the capital", "a mountain village", "a quiet suburb",
          "an island", "a busy market", "the old quarter", "a river valley"]
FILLER = [
    "the film follows {role} who {action} {place}",
    "it runs for about {minutes} minutes",
    "i saw it on a {day} with {company}",
    "most of it takes place in {place}",
    "the plot centres on {role} and {role2}",
    "there is a long scene in {place} near the middle",
    "the trailer shows {role} walking through {place}",
    "it came out in the {season} and played in {place}",
    "the running time is close to {minutes} minutes",
    "later on {role} meets {role2} in {place}",
]
DAYS = ["monday", "tuesday", "friday", "saturday", "sunday", "rainy night"]
COMPANY = ["my brother", "a friend", "my parents", "a colleague", "my neighbour", "nobody"]
SEASONS = ["spring", "summer", "autumn", "winter"]


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 = pos, 0 = neg
    kind: str


def generate(size: int, *, seed: int) -> list[Example]:
    """`size` distinct reviews, classes balanced (the odd one out is negative), same seed -> same list."""
    rng = random.Random(seed)
    plan = _plan(size, rng)
    examples: list[Example] = []
    seen: set[str] = set()
    for label, kind in plan:
        while True:  # retry duplicates so no text appears twice (train and validation stay apart)
            text = _REVIEW[kind](rng, label)
            if text not in seen:
                break
        seen.add(text)
        examples.append(Example(text, label, kind))
    return examples


def _plan(size: int, rng: random.Random) -> list[tuple[int, str]]:
    """Labels balanced, kinds in their shares, in a shuffled order."""
    kinds = [kind for kind, share in KINDS.items() for _ in range(round(share * size))]
    kinds = (kinds + ["plain"] * size)[:size]
    plan = [(i % 2, kind) for i, kind in enumerate(kinds)]
    rng.shuffle(plan)
    return plan


def _opinion(rng: random.Random, polarity: int, *, negated: bool = False) -> str:
    """'<aspect> <copula> [intensifier] <adjective>', negated when asked (then the adjective flips)."""
    word_polarity = 1 - polarity if negated else polarity
    adjective = rng.choice(POSITIVE if word_polarity == 1 else NEGATIVE)
    middle = rng.choice(NEGATIONS) if negated else rng.choice(INTENSIFIERS)
    return " ".join(part for part in (rng.choice(ASPECTS), rng.choice(COPULAS), middle, adjective) if part)


def _filler(rng: random.Random) -> str:
    return rng.choice(FILLER).format(
        role=rng.choice(ROLES), role2=rng.choice(ROLES), action=rng.choice(ACTIONS), place=rng.choice(PLACES),
        minutes=rng.choice(range(80, 181, 5)), day=rng.choice(DAYS), company=rng.choice(COMPANY),
        season=rng.choice(SEASONS))


def _verdict(rng: random.Random, label: int) -> str:
    if rng.random() < 0.3:
        return rng.choice(NEGATED_VERDICTS[label])
    return rng.choice(VERDICTS[label])


def _join(sentences: list[str]) -> str:
    return " . ".join(sentences) + " ."


def _with_filler(rng: random.Random, sentences: list[str], *, most: int) -> list[str]:
    """Neutral sentences inserted at random places (also after the last cue)."""
    for _ in range(rng.randint(0, most)):
        sentences.insert(rng.randint(0, len(sentences)), _filler(rng))
    return sentences


def _plain(rng: random.Random, label: int) -> str:
    cues = [_opinion(rng, label) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.4:
        cues.append(_verdict(rng, label))
    return _join(_with_filler(rng, cues, most=2))


def _negated(rng: random.Random, label: int) -> str:
    cues = [_opinion(rng, label, negated=True) for _ in range(rng.randint(1, 2))]
    return _join(_with_filler(rng, cues, most=2))


def _contrast(rng: random.Random, label: int) -> str:
    first = _opinion(rng, 1 - label, negated=rng.random() < 0.25)
    second = _opinion(rng, label, negated=rng.random() < 0.25)
    return _join(_with_filler(rng, [f"{first} but {second}"], most=1))


def _distant(rng: random.Random, label: int) -> str:
    cue = _opinion(rng, label, negated=rng.random() < 0.3) if rng.random() < 0.7 else _verdict(rng, label)
    tail: list[str] = []
    while sum(len(s.split()) for s in tail) < DISTANT_MIN_TOKENS:  # "." is not a token
        tail.append(_filler(rng))
    return _join([cue] + tail)


_REVIEW = {"plain": _plain, "negated": _negated, "contrast": _contrast, "distant": _distant}
