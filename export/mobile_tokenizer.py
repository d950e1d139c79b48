"""Our tokenizer as MediaPipe's RegexTokenizer sees it: a delimiter pattern and a vocabulary file.

MediaPipe (mediapipe/tasks/cc/text/tokenizers/regex_tokenizer.cc) splits the text at
every match of an RE2 *delimiter* and looks each piece up in the vocabulary exactly:
no normalization, no lower-casing. So the delimiter reproduces `standardize`'s
splitting (``<br />`` tags, punctuation but the apostrophe, symbols, every Unicode
space), and the vocabulary lists each word's capitalized and upper-case forms under
the word's id. What no regex can do stays different and is measured at export:
NFKC (full-width letters, ligatures) and case folding beyond those three forms
(``MiXeD`` is unknown to MediaPipe, ``ß`` folds to ``ss`` only in ours).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from edgelstm.runtime.standardize import CHARACTER_SCRIPTS, RULE_CJK, RULE_TEXT_VECTORIZATION
from edgelstm.runtime.tokenizer import PADDING_ID, VOCAB_OOV_ID, Tokenizer

# RE2 syntax. `standardize` turns `<br\s*/?>` (any case), every punctuation character but
# the apostrophe and every symbol into a space, then splits at Unicode whitespace:
# \p{Z} plus the C0/C1 controls Python's str.split() treats as space.
DELIMITER = r"(?:(?i:<br\s*/?>)|[^\P{P}']|\p{S}|[\x{09}-\x{0d}\x{1c}-\x{1f}\x{85}\p{Z}])+"
PAD_TOKEN, UNKNOWN_TOKEN = "<PAD>", "<UNKNOWN>"
TOKENIZER_KIND = "vocab"


class NotExpressible(Exception):
    """The tokenizer does something a delimiter regex and a vocabulary cannot (the message says what)."""


@dataclass(frozen=True)
class RegexTokenizer:
    delimiter: str
    vocabulary: list[tuple[str, int]]  # (token, id), several tokens may share an id

    def write_vocabulary(self, path: Path) -> None:
        """MediaPipe's vocabulary file: one `token id` per line."""
        path.write_text("".join(f"{token} {index}\n" for token, index in self.vocabulary), encoding="utf-8")


def why_not_expressible(tokenizer: Tokenizer) -> str | None:
    """None when MediaPipe's RegexTokenizer can stand for `tokenizer`, else the one-line reason."""
    if tokenizer.kind != TOKENIZER_KIND:
        return (f"the {tokenizer.kind} tokenizer drops words missing from its index, which MediaPipe's "
                "RegexTokenizer cannot do (it maps them to <UNKNOWN>)")
    if tokenizer.rule == RULE_TEXT_VECTORIZATION:
        return (f"its rule {tokenizer.rule} (a Keras TextVectorization layer's) deletes punctuation inside words "
                "(don't -> dont), which MediaPipe's RegexTokenizer cannot do: it only splits at delimiter matches")
    if (tokenizer.padding, tokenizer.truncating) != ("pre", "pre"):
        return (f"padding={tokenizer.padding!r}, truncating={tokenizer.truncating!r}: the mobile graph converts "
                "MediaPipe's ids to a pre-padded window of the last maxlen tokens only")
    characters = character_words(tokenizer)
    if characters:
        return (f"its rule {tokenizer.rule} makes each Chinese/Japanese character a word, and {len(characters)} "
                f"vocabulary words are such characters (e.g. {characters[0]!r}): MediaPipe's RegexTokenizer "
                "splits only at delimiter matches, never between two characters")
    return None


def character_words(tokenizer: Tokenizer) -> list[str]:
    """The vocabulary's words that RULE_CJK made of one character each (none under the other rules).

    A vocabulary without them (a model trained on English) loses nothing a regex cannot
    give: a Chinese or Japanese run of characters is unknown words to it either way, only
    their count differs (one <UNKNOWN> per run in MediaPipe, one per character in ours),
    and export counts those texts with the other tokenization differences.
    """
    if tokenizer.rule != RULE_CJK:
        return []
    return [word for word in tokenizer.words[:max(0, tokenizer.vocab_size - 2)]
            if len(word) == 1 and any(low <= ord(word) <= high for low, high, _ in CHARACTER_SCRIPTS)]


def regex_tokenizer(tokenizer: Tokenizer) -> RegexTokenizer:
    """The delimiter and vocabulary (case forms included) that reproduce `tokenizer` as far as a regex can."""
    reason = why_not_expressible(tokenizer)
    if reason:
        raise NotExpressible(reason)
    vocabulary = [(PAD_TOKEN, PADDING_ID), (UNKNOWN_TOKEN, VOCAB_OOV_ID)]
    taken = {PAD_TOKEN, UNKNOWN_TOKEN}
    words = [(word, index) for index, word in enumerate(tokenizer.words, start=2) if index < tokenizer.vocab_size]
    taken.update(word for word, _ in words)
    vocabulary += words
    for word, index in words:  # after every word itself: a word always wins over another word's case form
        for form in case_forms(word):
            if form not in taken:
                taken.add(form)
                vocabulary.append((form, index))
    return RegexTokenizer(DELIMITER, vocabulary)


def case_forms(word: str) -> list[str]:
    """Capitalized and upper-case spellings that our standardization folds back to `word`."""
    forms = [word[:1].upper() + word[1:], word.upper()]
    return [form for form in dict.fromkeys(forms)
            if form != word and unicodedata.normalize("NFKC", form).casefold() == word]
