"""The tokenizer: standardization, Keras-style front padding and truncation, OOV, the IMDB encoding."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.errors import BundleError, ConfigError, InputError
from edgelstm.runtime.tokenizer import (
    KERAS_OOV_ID,
    KERAS_START_ID,
    MAX_SCAN_CHARS,
    PADDING_ID,
    VOCAB_OOV_ID,
    Tokenizer,
    pad_ids,
    standardize,
)


def test_standardize_folds_case_width_tags_and_punctuation_but_keeps_apostrophes() -> None:
    assert standardize("It's GREAT!<br /><br />Ｆｕｌｌ-width, «quoted» café") == [
        "it's", "great", "full", "width", "quoted", "café"]
    assert standardize("   ") == [] and standardize("?!…") == []


def test_vocab_ids_rank_by_count_then_alphabet_and_map_unknown_words_to_oov() -> None:
    tokenizer = Tokenizer.fit(["b a", "a c", "a b"], vocab_size=4, maxlen=5)
    assert tokenizer.words == ["a", "b"]  # c dropped: 2 reserved ids + 2 words
    assert tokenizer.tokens_to_ids("A b c zebra") == [2, 3, VOCAB_OOV_ID, VOCAB_OOV_ID]


@pytest.mark.parametrize("length", [0, 1, 4, 5, 6, 13])
def test_pad_ids_pads_and_truncates_at_the_front_like_keras(length: int) -> None:
    ids = list(range(1, length + 1))
    padded = pad_ids(ids, 5)
    assert len(padded) == 5
    kept = ids[-5:]
    assert padded[5 - len(kept):] == kept  # the last tokens survive, at the end
    assert padded[:5 - len(kept)] == [PADDING_ID] * (5 - len(kept))


def test_pad_ids_matches_keras_pad_sequences_for_every_side() -> None:
    keras_utils = pytest.importorskip("keras.utils", reason="keras is an export-time extra")
    rng = random.Random(0)
    sequences = [[rng.randrange(1, 50) for _ in range(rng.randrange(0, 12))] for _ in range(40)]
    for padding in ("pre", "post"):
        for truncating in ("pre", "post"):
            ours = np.array([pad_ids(s, 7, padding=padding, truncating=truncating) for s in sequences])
            theirs = keras_utils.pad_sequences(sequences, maxlen=7, padding=padding, truncating=truncating)
            np.testing.assert_array_equal(ours, theirs)


def test_encode_returns_int32_rows_for_one_text_or_many() -> None:
    tokenizer = Tokenizer.fit(["good film", "bad film"], vocab_size=10, maxlen=4)
    one = tokenizer.encode("good film")
    assert one.dtype == np.int32 and one.shape == (1, 4)
    assert tokenizer.encode([]).shape == (0, 4)
    with pytest.raises(InputError, match="text #1 is int"):
        tokenizer.encode(["fine", 3])


@pytest.mark.parametrize("kind", ["vocab", "keras-imdb"])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_encode_one_gives_exactly_the_batch_encoding(kind: str, padding: str) -> None:
    """The batch-1 lane's encoder: the same row and length as encode_with_lengths([text]), on both
    padding sides, for texts shorter and longer than maxlen, empty, punctuation-only and non-ASCII."""
    corpus = ["good film great acting", "bad film dull plot", "great great plot twist"]
    if kind == "vocab":
        tokenizer = Tokenizer.fit(corpus, vocab_size=8, maxlen=6)
    else:
        tokenizer = Tokenizer.from_keras_word_index({"great": 1, "film": 2, "plot": 3}, num_words=6, maxlen=6)
    tokenizer.padding = padding
    texts = ["", "?!", "good", "great film", "Ｇｒｅａｔ café plot", "unknown " * 3, "great plot film " * 5]
    for text in texts:
        ids, length = tokenizer.encode_one(text)
        batch_ids, batch_lengths = tokenizer.encode_with_lengths([text])
        assert ids.dtype == np.int32 and ids.shape == (1, 6)
        np.testing.assert_array_equal(ids, batch_ids)
        assert length == int(batch_lengths[0])
    with pytest.raises(InputError, match="text #0 is int"):
        tokenizer.encode_one(3)  # type: ignore[arg-type]


def test_keras_imdb_kind_marks_the_start_drops_unindexed_words_and_caps_the_vocabulary() -> None:
    index = {"the": 1, "film": 2, "rare": 50}
    tokenizer = Tokenizer.from_keras_word_index(index, num_words=20, maxlen=6)
    ids = tokenizer.tokens_to_ids("The film, the unknownword RARE!")
    assert ids == [KERAS_START_ID, 1 + 3, 2 + 3, 1 + 3, KERAS_OOV_ID]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    tokenizer = Tokenizer.fit(["one two three", "two three", "three"], vocab_size=5, maxlen=3)
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = Tokenizer.load(tmp_path / "tokenizer.json")
    assert loaded == tokenizer
    data = json.loads((tmp_path / "tokenizer.json").read_text())
    data["format_version"] = 99
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="format_version 99"):
        Tokenizer.load(tmp_path / "tokenizer.json")


def test_invalid_settings_name_the_accepted_values() -> None:
    with pytest.raises(ConfigError, match="'vocab' and 'keras-imdb'"):
        Tokenizer(kind="bpe", maxlen=5, vocab_size=10)
    with pytest.raises(ConfigError, match="padding/truncating"):
        Tokenizer(kind="vocab", maxlen=5, vocab_size=10, padding="middle")


def _long_texts(rng: random.Random, words: list[str]) -> list[str]:
    """Texts long enough for windowed reading, with punctuation, tags and odd spacing at every cut."""
    pieces = words + ["<br />", "it's", "—", "ÉTÉ", "  ", "\t", "x.y", "e\u0301"]
    return [" ".join(rng.choice(pieces) for _ in range(rng.randrange(300, 4000))) for _ in range(30)]


@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("kind", ["vocab", "keras-imdb"])
def test_long_texts_read_through_a_window_give_the_ids_of_the_whole_text(kind: str, truncating: str) -> None:
    rng = random.Random(1)
    words = [f"w{i}" for i in range(40)] + ["the", "film"]
    if kind == "vocab":
        tokenizer = Tokenizer.fit(words, vocab_size=30, maxlen=20)
    else:
        tokenizer = Tokenizer.from_keras_word_index({w: i + 1 for i, w in enumerate(words[::2])}, num_words=15, maxlen=20)
    tokenizer.truncating = truncating
    for text in _long_texts(rng, words):
        whole = tokenizer.tokens_to_ids(text)
        expected = whole[-20:] if truncating == "pre" else whole[:20]
        assert tokenizer.kept_ids(text) == expected


def test_a_text_of_many_megabytes_reads_a_bounded_window() -> None:
    tokenizer = Tokenizer.fit(["good bad"], vocab_size=10, maxlen=3)
    huge = "filler " * (3 * MAX_SCAN_CHARS // 7) + "good bad good"
    assert tokenizer.kept_ids(huge) == tokenizer.kept_ids("good bad good")
    # Fewer than maxlen words in the last MAX_SCAN_CHARS characters: only those are read.
    sparse = "good " + " " * (2 * MAX_SCAN_CHARS) + "bad"
    assert tokenizer.kept_ids(sparse) == tokenizer.tokens_to_ids("bad")


@pytest.mark.imdb
def test_keras_imdb_encoding_matches_keras_text_to_word_sequence_on_real_reviews(imdb_sample) -> None:
    """The reference is Keras' own splitter (what built imdb.npz), not our re-reading of it."""
    text_module = pytest.importorskip("tf_keras.preprocessing.text", reason="tf_keras is an export-time extra")
    texts, index = imdb_sample
    tokenizer = Tokenizer.from_keras_word_index(index, num_words=10000, maxlen=200)
    for text in texts[:500]:
        words = text_module.text_to_word_sequence(text)  # lower-cased, Keras' punctuation filters, split on " "
        ranks = [index[word] + 3 for word in words if word in index]
        expected = [KERAS_START_ID] + [r if r < 10000 else KERAS_OOV_ID for r in ranks]
        assert tokenizer.tokens_to_ids(text) == expected
        assert tokenizer.encode(text)[0].tolist() == pad_ids(expected, 200)


@pytest.mark.imdb
def test_windowed_reading_matches_whole_text_on_every_real_review(imdb_sample) -> None:
    texts, index = imdb_sample
    tokenizers = [Tokenizer.from_keras_word_index(index, num_words=10000, maxlen=100),
                  Tokenizer.fit(texts[:300], vocab_size=2000, maxlen=100)]
    for tokenizer in tokenizers:
        for text in texts:
            assert tokenizer.kept_ids(text) == tokenizer.tokens_to_ids(text)[-100:]
