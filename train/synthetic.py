"""The built-in corpus: short film reviews the project writes itself, deterministic from a seed.

The sentiment words come from a real English lexicon (`edgelstm.train.lexicon`: VADER's
ratings decide which side every word is on, and add a few hundred rarer adjectives); the
templates, the neutral sentences and the everyday review words chosen from the lexicon are
this project's own. The corpus is meant to teach plain English and to be a fair test of a
recurrent model, so it mixes five kinds of review (shares in `KINDS`):

* ``short``: what people type into a box: "great movie", "bad", "loved it", "not good".
* ``plain``: opinions that carry the sentiment ("the score was superb", "a dull film").
* ``negated``: every opinion is negated ("the score was not superb", "not bad at all"),
  so the words point the wrong way and only word order decides the label.
* ``contrast``: an opinion, then "but" and the opposite one; the clause after
  "but" decides ("the cast was dull but the ending was superb" is positive).
* ``distant``: one opinion, then several neutral sentences, so the deciding cue sits
  35 or more tokens before the end: a model without memory of early tokens
  (a short window, or an LSTM truncated to the last few steps) fails on them.

Everyday words (`CORE_SHARE` of the draws) come far more often than the lexicon's wider
adjectives, as they do in real reviews, so even a small vocabulary holds them. Neutral
sentences never depend on the label, and a label's words also appear in reviews of the
other label (negated or before "but"), so no single word gives the answer away.
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass

from edgelstm.train import lexicon

LABEL_NAMES = ("neg", "pos")

# kind -> share of the corpus
KINDS = {"short": 0.15, "plain": 0.25, "negated": 0.2, "contrast": 0.15, "distant": 0.25}
# Enough neutral sentences after a distant cue to put it >= 35 tokens from the end.
DISTANT_MIN_TOKENS = 35
# Share of adjective draws from the everyday words; the rest come from the lexicon's wider set.
CORE_SHARE = 0.8

# Everyday review words, the most common first: they are drawn by rank (Zipf's law, as words
# are used), so "good" comes far more often than "magnificent". The lexicon decides their
# polarity and drops those it rates too mildly ("solid", "warm", "silly").
EVERYDAY_ADJECTIVES = [
    "good", "bad", "great", "terrible", "excellent", "boring", "amazing", "awful", "wonderful",
    "dull", "brilliant", "horrible", "funny", "poor", "beautiful", "weak", "fun", "stupid", "nice",
    "disappointing", "perfect", "annoying", "fantastic", "lame", "enjoyable", "messy", "superb",
    "ridiculous", "lovely", "painful", "entertaining", "pathetic", "charming", "dreadful", "clever",
    "lousy", "awesome", "dreary", "delightful", "ugly", "stunning", "outstanding", "impressive",
    "smart", "hilarious", "magnificent", "terrific", "sweet", "heartfelt", "inspiring", "powerful",
    "thrilling", "exciting", "pleasant", "solid", "warm", "silly"]
# Film words VADER does not rate; their side is this project's call.
PROJECT_ADJECTIVES = {1: ["gripping", "moving", "touching", "memorable", "witty", "gorgeous"],
                      0: ["mediocre", "tedious", "bland", "forgettable", "pointless", "predictable",
                          "clumsy", "shallow", "lifeless", "sloppy", "stale", "wooden", "unwatchable"]}
# past -> present, for "i did not like it"
EVERYDAY_VERBS = {"loved": "love", "enjoyed": "enjoy", "liked": "like", "adored": "adore", "admired": "admire",
                  "hated": "hate", "disliked": "dislike", "despised": "despise"}
EVERYDAY_NOUNS = ["masterpiece", "treat", "triumph", "joy", "delight", "mess", "disaster", "failure",
                  "flop", "disappointment", "bore"]
# How the film left the viewer ("i was impressed", "i was not disappointed").
EVERYDAY_FEELINGS = ["impressed", "amused", "entertained", "thrilled", "delighted", "satisfied",
                     "pleased", "disappointed", "bored", "annoyed", "confused", "frustrated"]
SUPERLATIVES = {1: "best", 0: "worst"}

ASPECTS = ["the story", "the acting", "the score", "the ending", "the pacing", "the dialogue",
           "the camera work", "the cast", "the script", "the lead", "the editing", "the opening",
           "the humour", "the set design", "the final act", "the villain", "the costumes",
           "the direction", "the sound", "the second half", "the plot", "the jokes",
           "the performances", "the music", "the characters", "the first half", "the start"]
PLURAL_ASPECTS = {"the jokes", "the performances", "the characters", "the costumes"}
ITEMS = ["film", "movie", "story", "show", "sequel", "comedy", "drama", "thriller", "watch"]
INTENSIFIERS = ["", "", "", "really", "truly", "quite", "very", "so", "simply", "pretty", "just"]
COPULAS = ["was", "is", "felt", "seemed"]
PLURAL_COPULAS = ["were", "are", "felt", "seemed"]
NEGATIONS = ["not", "never", "hardly", "far from", "in no way", "not at all", "not very", "not that"]
CONTRACTED = {"was": "wasn't", "is": "isn't", "were": "weren't", "are": "aren't"}
RECOMMENDATIONS = {
    1: ["highly recommended", "i would recommend it", "i would watch it again", "worth watching",
        "do not miss this one", "watch this one",
        "worth every minute", "worth the ticket", "go and see it", "i left smiling",
        "my friends should see it", "ten out of ten"],
    0: ["i would not recommend it", "i would never watch it again", "not worth watching",
        "not worth the ticket", "a waste of time", "a waste of money", "skip this one",
        "i want my evening back", "i walked out", "my friends should avoid it", "one out of ten"],
}
SUPERLATIVE_ENDINGS = ["", "i have seen", "of the year", "in years", "i have seen this year", "ever"]
CONTRAST_WORDS = ["but", "but", "but", "yet", "however"]

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
    "it stars {name} and {name2}",
    "{name} plays {role}",
    "it was directed by {name}",
    "{name} wrote the script with {name2}",
    "the film follows {name} who {action} {place}",
]
# Made-up names from these syllables: tens of thousands, most seen once, so a vocabulary
# of any size leaves many out and the model learns that an unknown word says nothing.
SYLLABLES = ["ka", "lo", "mi", "ra", "ten", "vor", "sa", "bel", "du", "ni", "mar", "ko", "el",
             "tha", "ri", "gan", "po", "li", "zen", "ha", "do", "mun", "fe", "ya", "ber", "ol",
             "can", "si", "ta", "wen"]
DAYS = ["monday", "tuesday", "friday", "saturday", "sunday", "rainy night"]
COMPANY = ["my brother", "a friend", "my parents", "a colleague", "my neighbour", "nobody"]
SEASONS = ["spring", "summer", "autumn", "winter"]


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 = pos, 0 = neg
    kind: str


@functools.lru_cache(maxsize=1)
def words() -> dict[str, dict[int, tuple[str, ...]]]:
    """The sentiment words by part and polarity: everyday adjectives, wider adjectives, verbs, nouns."""
    core = lexicon.rated(EVERYDAY_ADJECTIVES)
    for side, extra in PROJECT_ADJECTIVES.items():
        core[side] += extra
    wide = lexicon.adjectives()
    # Words the templates use as neutral nouns ("comedy" is rated positive) stay neutral.
    taken = set(core[0]) | set(core[1]) | set(ITEMS) | {w for a in ASPECTS for w in a.split()}
    return {"core": {side: tuple(ws) for side, ws in core.items()},
            "wide": {side: tuple(w for w in ws if w not in taken) for side, ws in wide.items()},
            "verbs": {side: tuple(ws) for side, ws in lexicon.rated(list(EVERYDAY_VERBS)).items()},
            "nouns": {side: tuple(ws) for side, ws in lexicon.rated(EVERYDAY_NOUNS).items()},
            "feelings": {side: tuple(ws) for side, ws in lexicon.rated(EVERYDAY_FEELINGS).items()}}


@functools.lru_cache(maxsize=1)
def sentiment_words() -> frozenset[str]:
    """Every word that carries sentiment in the corpus (for tests: filler must hold none)."""
    found = {w for part in words().values() for ws in part.values() for w in ws}
    found |= set(EVERYDAY_VERBS.values()) | set(SUPERLATIVES.values())
    found |= {word for phrases in RECOMMENDATIONS.values() for phrase in phrases for word in phrase.split()}
    return frozenset(found - {"i", "it", "a", "my", "to", "see", "the", "of", "an", "and", "go", "out", "this",
                              "one", "time", "do", "watch"})


def generate(size: int, *, seed: int) -> list[Example]:
    """`size` distinct reviews, classes balanced (the odd one out is negative), same seed -> same list."""
    rng = random.Random(seed)
    plan = _plan(size, rng)
    examples: list[Example] = []
    seen: set[str] = set()
    for label, kind in plan:
        for _ in range(1000):  # retry duplicates so no text appears twice (train and validation stay apart)
            text = _REVIEW[kind](rng, label)
            if text not in seen:
                break
        else:  # short reviews run out first in very large corpora: a longer kind fills in
            kind = "plain"
            text = _REVIEW[kind](rng, label)
            while text in seen:
                text = _REVIEW[kind](rng, label)
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


def _adjective(rng: random.Random, polarity: int) -> str:
    if rng.random() < CORE_SHARE:
        core = words()["core"][polarity]
        return rng.choices(core, cum_weights=_zipf(len(core)))[0]
    return rng.choice(words()["wide"][polarity])


@functools.cache
def _zipf(size: int) -> list[float]:
    """Cumulative weights 1, 1/2, 1/3 ... for words ordered from the most common."""
    return list(itertools.accumulate(1.0 / rank for rank in range(1, size + 1)))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _phrase(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _opinion(rng: random.Random, polarity: int, *, negated: bool = False) -> str:
    """One opinion of `polarity`; when negated its sentiment word has the other polarity."""
    word_polarity = 1 - polarity if negated else polarity
    form = rng.choice(_NEGATED_FORMS if negated else _FORMS)
    return form(rng, word_polarity)


def _aspect_form(rng: random.Random, side: int) -> str:
    aspect = rng.choice(ASPECTS)
    copula = rng.choice(PLURAL_COPULAS if aspect in PLURAL_ASPECTS else COPULAS)
    return _phrase(aspect, copula, rng.choice(INTENSIFIERS), _adjective(rng, side))


def _item_form(rng: random.Random, side: int) -> str:
    adjective = _adjective(rng, side)
    shape = rng.choice(["{a} {adj} {item}", "{adj} {item}", "what {a} {adj} {item}", "{adj}",
                        "it was {adj}", "it is {adj}", "{intens} {adj}", "{intens} {adj} {item}"])
    intens = rng.choice(INTENSIFIERS[3:])
    first = intens if shape.startswith("{a} {intens}") else adjective
    text = shape.format(a=_article(first), adj=adjective, item=rng.choice(ITEMS), intens=intens)
    return text


def _described_aspect_form(rng: random.Random, side: int) -> str:
    """'bad acting', 'a great cast', 'lovely music'."""
    noun = rng.choice(ASPECTS).split(" ", 1)[1]
    adjective = _adjective(rng, side)
    shape = rng.choice(["{adj} {noun}", "{a} {adj} {noun}", "{intens} {adj} {noun}"])
    return shape.format(adj=adjective, noun=noun, a=_article(adjective), intens=rng.choice(INTENSIFIERS[3:]))


def _verb_form(rng: random.Random, side: int) -> str:
    verb = rng.choice(words()["verbs"][side])
    shape = rng.choice(["i {v} it", "{v} it", "i really {v} it", "i {v} every minute of it",
                        "we {v} it", "my kids {v} it", "i {v} this {item}", "{v} this one", "i {v} the {item}"])
    return shape.format(v=verb, item=rng.choice(ITEMS))


def _noun_form(rng: random.Random, side: int) -> str:
    noun = rng.choice(words()["nouns"][side])
    shape = rng.choice(["{a} {n}", "what {a} {n}", "it was {a} {n}", "a real {n}", "{aspect} was {a} {n}"])
    return shape.format(a=_article(noun), n=noun, aspect=rng.choice(ASPECTS))


def _feeling_form(rng: random.Random, side: int) -> str:
    shape = rng.choice(["i was {intens} {f}", "it left me {f}", "we were {f}", "i was {f} by it",
                        "{f}", "i came out {f}"])
    return _phrase(*shape.format(f=rng.choice(words()["feelings"][side]), intens=rng.choice(INTENSIFIERS)).split())


def _negated_feeling_form(rng: random.Random, side: int) -> str:
    shape = rng.choice(["i was not {f}", "i wasn't {f}", "i was never {f}", "i was not {f} at all",
                        "we were not {f}", "it did not leave me {f}"])
    return shape.format(f=rng.choice(words()["feelings"][side]))


def _superlative_form(rng: random.Random, side: int) -> str:
    return _phrase("the", SUPERLATIVES[side], rng.choice(ITEMS), rng.choice(SUPERLATIVE_ENDINGS))


def _recommendation_form(rng: random.Random, side: int) -> str:
    return rng.choice(RECOMMENDATIONS[side])


def _negated_aspect_form(rng: random.Random, side: int) -> str:
    aspect = rng.choice(ASPECTS)
    copula = rng.choice(["were", "are"] if aspect in PLURAL_ASPECTS else ["was", "is"])
    adjective = _adjective(rng, side)
    if rng.random() < 0.3 and rng.random() < 0.3:
        return _phrase(aspect, CONTRACTED[copula], adjective)
    negation = rng.choice(NEGATIONS)
    if negation == "not" and rng.random() < 0.3:
        return _phrase(aspect, copula, "not", adjective, "at all")
    return _phrase(aspect, copula, negation, adjective)


def _negated_item_form(rng: random.Random, side: int) -> str:
    adjective = _adjective(rng, side)
    shape = rng.choice(["not {adj}", "not {adj} at all", "not {a} {adj} {item}", "it was not {adj}",
                        "it wasn't {adj}", "it was not {adj} at all", "not very {adj}", "never {adj}",
                        "it isn't {adj}", "not that {adj}", "hardly {adj}"])
    return shape.format(adj=adjective, a=_article(adjective), item=rng.choice(ITEMS))


def _negated_verb_form(rng: random.Random, side: int) -> str:
    verb = rng.choice(words()["verbs"][side])
    shape = rng.choice(["i did not {p} it", "i didn't {p} it", "i did not {p} it at all", "i never {v} it"])
    return shape.format(p=EVERYDAY_VERBS[verb], v=verb)


_FORMS = [_aspect_form, _aspect_form, _item_form, _item_form, _described_aspect_form, _verb_form, _noun_form,
          _feeling_form, _superlative_form, _recommendation_form]
_NEGATED_FORMS = [_negated_aspect_form, _negated_aspect_form, _negated_item_form, _negated_item_form,
                  _negated_verb_form, _negated_feeling_form]


def _name(rng: random.Random) -> str:
    while True:  # a made-up name must not spell a sentiment word
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        if name not in sentiment_words():
            return name


def _filler(rng: random.Random) -> str:
    return rng.choice(FILLER).format(
        name=_name(rng), name2=_name(rng),
        role=rng.choice(ROLES), role2=rng.choice(ROLES), action=rng.choice(ACTIONS), place=rng.choice(PLACES),
        minutes=rng.choice(range(80, 181, 5)), day=rng.choice(DAYS), company=rng.choice(COMPANY),
        season=rng.choice(SEASONS))


def _join(sentences: list[str]) -> str:
    return " . ".join(sentences) + " ."


def _with_filler(rng: random.Random, sentences: list[str], *, most: int) -> list[str]:
    """Neutral sentences inserted at random places (also after the last cue)."""
    for _ in range(rng.randint(0, most)):
        sentences.insert(rng.randint(0, len(sentences)), _filler(rng))
    return sentences


def _short(rng: random.Random, label: int) -> str:
    negated = rng.random() < 0.3
    form = rng.choice([_negated_item_form, _negated_verb_form, _negated_feeling_form] if negated else
                      [_item_form, _item_form, _described_aspect_form, _verb_form, _noun_form, _feeling_form,
                       _recommendation_form])
    return form(rng, 1 - label if negated else label)


def _plain(rng: random.Random, label: int) -> str:
    cues = [_opinion(rng, label) for _ in range(rng.randint(1, 3))]
    return _join(_with_filler(rng, cues, most=2))


def _negated(rng: random.Random, label: int) -> str:
    cues = [_opinion(rng, label, negated=True) for _ in range(rng.randint(1, 2))]
    return _join(_with_filler(rng, cues, most=2))


def _contrast(rng: random.Random, label: int) -> str:
    first = _opinion(rng, 1 - label, negated=rng.random() < 0.2)
    second = _opinion(rng, label, negated=rng.random() < 0.2)
    return _join(_with_filler(rng, [f"{first} {rng.choice(CONTRAST_WORDS)} {second}"], most=1))


def _distant(rng: random.Random, label: int) -> str:
    cue = _opinion(rng, label, negated=rng.random() < 0.3)
    tail: list[str] = []
    while sum(len(s.split()) for s in tail) < DISTANT_MIN_TOKENS:  # "." is not a token
        tail.append(_filler(rng))
    return _join([cue] + tail)


_REVIEW = {"short": _short, "plain": _plain, "negated": _negated, "contrast": _contrast, "distant": _distant}
