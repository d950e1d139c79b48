"""The fast tokenizer gives exactly the ids of the encoder it replaced, and the CJK rule follows its definition.

The reference is the pre-rewrite encoder, frozen in tests/reference/tokenizer_v1.py. It knew
the rules nfkc-casefold-br-punct-v1 and keras-imdb-v1, so every tokenizer.json written before
the rewrite must encode through the new code exactly as through it: on every review of the
IMDB sample and on generated Unicode text built to hit the corners (every kind of
whitespace, combining marks, compatibility forms, <br> variants, window edges).
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from edgelstm.runtime.standardize import (
    CHARACTER_SCRIPTS,
    RULE_CJK,
    RULE_KERAS,
    RULE_V1,
    is_separator,
    keras_imdb_words,
    standardize,
)
from edgelstm.runtime.tokenizer import TOKENIZER_FORMAT_VERSION, Tokenizer

REFERENCE_FILE = Path(__file__).parent / "reference" / "tokenizer_v1.py"


def reference_module():
    spec = importlib.util.spec_from_file_location("edgelstm_reference_tokenizer_v1", REFERENCE_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


OLD = reference_module()

# Pieces that stress each step: tags, every whitespace str.split knows, combining marks and
# compatibility forms NFKC rewrites, case folding that changes length, CJK, Hangul (jamo
# that NFKC composes), symbols and punctuation from many blocks, the apostrophe.
PIECES = (["<br />", "<BR>", "<br/>", "<Br \t/>", "<br\u3000/>", "<br\x1c>", "< br />", "<br", "it's", "'", "''",
           "ß", "İ", "K", "ſ", "ﬁ", "①", "½", "Ｆｕｌｌ", "ｶﾀｶﾅ", "e\u0301", "\u0301", "ᄀ\u1161\u11a8", "한국어",
           "영화가", "좋았다", "電影", "很好看", "映画はとても良かった", "ラーメン", "々", "〇", "𠀋", "café", "ÉTÉ",
           "naïve", "x.y", "a-b", "—", "…", "«»", "“quoted”", "¿", "¡", "€5", "$", "+", "<", ">", "^", "`", "|", "~",
           "😀", "∑", "™", "\u00a0", "\u2003", "\u3000", "\u1680", "\u0085", "\u2028", "\x1c", "\x1d", "\x1e", "\x1f",
           "\x0b", "\x0c", "\r", "\t", "\n", "  ", "\x00", "\u200b", "\ufeff", "\ud800"]
          + [f"w{i}" for i in range(30)] + ["the", "film", "good", "bad"])


def random_code_point_text(rng: random.Random, length: int) -> str:
    """Arbitrary code points, surrogates included: what a decoded file of any origin can hold."""
    return "".join(chr(rng.randrange(0x110000)) if rng.random() < 0.3 else chr(rng.randrange(0x3000))
                   for _ in range(length))


def generated_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for n in range(count):
        if n % 5 == 4:
            texts.append(random_code_point_text(rng, rng.randrange(0, 400)))
        else:
            joiner = rng.choice([" ", "", "  ", "\n"])
            texts.append(joiner.join(rng.choice(PIECES) for _ in range(rng.randrange(0, 120 if n % 7 else 900))))
    return texts


def as_new(old_tokenizer) -> Tokenizer:
    """The new tokenizer reading the file the old one wrote."""
    return Tokenizer.from_dict(json.loads(json.dumps(old_tokenizer.to_dict())))


def old_tokenizers(texts: list[str], index: dict[str, int], maxlen: int):
    vocab = OLD.Tokenizer.fit(texts, vocab_size=2000, maxlen=maxlen)
    keras = OLD.Tokenizer.from_keras_word_index(index, num_words=2000, maxlen=maxlen)
    return [vocab, keras]


def assert_same_encoding(old_tokenizer, texts: list[str], truncations: tuple[str, ...] = ("pre", "post")) -> None:
    new = as_new(old_tokenizer)
    for truncating in truncations:
        old_tokenizer.truncating = new.truncating = truncating
        expected = old_tokenizer.encode(texts)
        # No real token has id 0, so the old lengths are the non-padding counts of its rows.
        expected_lengths = (expected != 0).sum(axis=1)
        ids, lengths = new.encode_with_lengths(texts)
        np.testing.assert_array_equal(ids, expected)
        np.testing.assert_array_equal(lengths, expected_lengths)
        np.testing.assert_array_equal(new.encode(texts), expected)
        np.testing.assert_array_equal(new.lengths(texts), expected_lengths)


def test_generated_unicode_standardizes_as_the_old_encoder() -> None:
    for text in generated_texts(1000):
        assert standardize(text, RULE_V1) == OLD.standardize(text), repr(text)
        assert keras_imdb_words(text) == OLD.keras_imdb_words(text), repr(text)


def test_generated_unicode_encodes_as_the_old_encoder_through_windows() -> None:
    texts = generated_texts(500, seed=1)
    index = {word: rank for rank, word in enumerate(dict.fromkeys(w for t in texts[:200] for w in t.split()), 1)}
    for maxlen in (7, 40):  # windows of 112 and 640 characters: most generated texts are read through windows
        for old_tokenizer in old_tokenizers(texts[:300], index, maxlen):
            assert_same_encoding(old_tokenizer, texts)


def test_every_code_point_alone_standardizes_as_the_old_encoder() -> None:
    """Each of the 1.1 M code points between two words: categories, NFKC and folding of every one."""
    for start in range(0, 0x110000, 4096):
        text = " a".join(chr(c) for c in range(start, start + 4096))
        assert standardize(text, RULE_V1) == OLD.standardize(text), f"block from U+{start:04X}"
        assert keras_imdb_words(text) == OLD.keras_imdb_words(text), f"block from U+{start:04X}"


@pytest.mark.imdb
def test_every_imdb_review_encodes_as_the_old_encoder(imdb_sample) -> None:
    texts, index = imdb_sample
    vocab, keras = old_tokenizers(texts, index, 200)
    new_fit = Tokenizer.fit(texts, vocab_size=2000, maxlen=200, rule=RULE_V1)
    assert new_fit.words == vocab.words  # the fit counts the same words too
    for old_tokenizer in (vocab, keras):
        assert_same_encoding(old_tokenizer, texts)
    short = OLD.Tokenizer.fit(texts[:500], vocab_size=2000, maxlen=30)  # windows on most reviews
    assert_same_encoding(short, texts, truncations=("pre",))


def test_a_file_written_before_the_cjk_rule_keeps_its_ids(tmp_path: Path) -> None:
    """An existing tokenizer.json (format_version 1) encodes Chinese as before: one word per run."""
    corpus = ["電影很好看 good", "映画はとても良かった bad", "영화가 좋았다"]
    old_tokenizer = OLD.Tokenizer.fit(corpus, vocab_size=50, maxlen=12)
    path = tmp_path / "tokenizer.json"
    old_tokenizer.save(path)
    loaded = Tokenizer.load(path)
    assert loaded.rule == RULE_V1
    texts = corpus + ["電影很好看", "好看 電影"]
    np.testing.assert_array_equal(loaded.encode(texts), old_tokenizer.encode(texts))
    assert loaded.tokens_to_ids("電影很好看") == [old_tokenizer.tokens_to_ids("電影很好看")[0]]  # one word
    loaded.save(tmp_path / "again.json")  # saved again, it stays what it was
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    assert again["format_version"] == 1 and again["standardize"] == RULE_V1


def character_word(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high, _ in CHARACTER_SCRIPTS)


def cjk_rule_by_definition(text: str) -> list[str]:
    """RULE_CJK one character at a time, as standardize.py's docstring defines it."""
    text = unicodedata.normalize("NFKC", OLD._BR_TAG.sub(" ", text)).casefold()
    pieces = [" " if is_separator(c) else f" {c} " if character_word(c) else c for c in text]
    return "".join(pieces).split()


def test_the_cjk_rule_follows_its_definition_on_generated_unicode() -> None:
    for text in generated_texts(1000, seed=2):
        assert standardize(text, RULE_CJK) == cjk_rule_by_definition(text), repr(text)


def test_the_cjk_rule_splits_chinese_and_japanese_into_characters_and_keeps_korean_and_latin_words() -> None:
    assert standardize("這部電影很好看！", RULE_CJK) == ["這", "部", "電", "影", "很", "好", "看"]
    assert standardize("映画はとても良かった。", RULE_CJK) == list("映画はとても良かった")
    assert standardize("ｶﾀｶﾅのラーメン", RULE_CJK) == list("カタカナのラーメン")  # NFKC makes half-width kana full
    assert standardize("이 영화는 정말 좋았다!", RULE_CJK) == ["이", "영화는", "정말", "좋았다"]
    assert standardize("It's GREAT, «café»!<br />ok", RULE_CJK) == standardize("It's GREAT, «café»!<br />ok", RULE_V1)
    assert standardize("good電影", RULE_CJK) == ["good", "電", "影"]


def test_new_tokenizers_use_the_cjk_rule_and_say_so_in_their_file(tmp_path: Path) -> None:
    tokenizer = Tokenizer.fit(["電影很好看", "很難看"], vocab_size=20, maxlen=8)
    assert tokenizer.rule == RULE_CJK
    assert tokenizer.words[0] == "很"  # the shared character is the most frequent word
    tokenizer.save(tmp_path / "tokenizer.json")
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    assert data["format_version"] == 2 and data["standardize"] == RULE_CJK
    assert Tokenizer.load(tmp_path / "tokenizer.json") == tokenizer
    keras = Tokenizer.from_keras_word_index({"good": 1}, num_words=10, maxlen=4)
    assert keras.rule == RULE_KERAS and keras.to_dict()["format_version"] == 1  # an unchanged rule keeps version 1


def test_the_old_reader_refuses_a_new_file_instead_of_misreading_it(tmp_path: Path) -> None:
    Tokenizer.fit(["電影很好看"], vocab_size=20, maxlen=8).save(tmp_path / "tokenizer.json")
    with pytest.raises(OLD.BundleError, match="format_version 2 is not supported"):
        OLD.Tokenizer.load(tmp_path / "tokenizer.json")


@pytest.mark.parametrize(("change", "message"), [
    ({"standardize": "whitespace-v9"}, "does not know"),
    ({"format_version": 1, "standardize": RULE_CJK}, "needs format_version 2"),
    # One past the newest version this reader knows, so the case follows TOKENIZER_FORMAT_VERSION.
    ({"format_version": TOKENIZER_FORMAT_VERSION + 1}, f"reads versions 1 to {TOKENIZER_FORMAT_VERSION}"),
    ({"format_version": True}, "is not supported"),
])
def test_inconsistent_or_unknown_rules_are_refused_by_name(tmp_path: Path, change: dict, message: str) -> None:
    from edgelstm.core.errors import BundleError

    data = Tokenizer.fit(["good film"], vocab_size=10, maxlen=4).to_dict()
    data.update(change)
    (tmp_path / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BundleError, match=message):
        Tokenizer.load(tmp_path / "tokenizer.json")
