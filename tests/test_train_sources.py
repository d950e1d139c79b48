"""Every data source through `load_corpus`, the label rule, and the data-side errors (no TensorFlow)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from edgelstm.core.errors import DataError
from edgelstm.train import labels as label_rule
from edgelstm.train.config import TrainConfig
from edgelstm.train.prepare import limit_corpus, prepare, stratified_split
from edgelstm.train.sources import load_corpus

ROWS = [("a fine warm film", "pos"), ("a dull cold film", "neg"), ("lovely, truly", "pos"), ("awful", "neg")]


def write_csv(path, rows, header="text,label", encoding="utf-8"):
    lines = [header] + [f'"{text}",{label}' for text, label in rows]
    data = ("\n".join(lines) + "\n").encode(encoding)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def load(path, **options):
    return load_corpus(TrainConfig(data=str(path), **options))


def test_csv_plain_and_gzip_give_the_same_examples(tmp_path):
    plain = load(write_csv(tmp_path / "r.csv", ROWS))
    zipped = load(write_csv(tmp_path / "r.csv.gz", ROWS))
    assert plain.texts == zipped.texts == [t for t, _ in ROWS]
    assert plain.labels.tolist() == [1, 0, 1, 0] and plain.label_names == ("neg", "pos")
    assert plain.fingerprint()["sha256"] == zipped.fingerprint()["sha256"]  # same data, other packaging
    assert plain.fingerprint()["file_sha256"] != zipped.fingerprint()["file_sha256"]
    assert plain.fingerprint()["counts"] == {"neg": 2, "pos": 2}


def test_csv_with_other_column_names(tmp_path):
    path = tmp_path / "r.csv"
    write_csv(path, [(t, 1 if lab == "pos" else 0) for t, lab in ROWS], header="body,stars")
    corpus = load(path, text_column="body", label_column="stars")
    assert corpus.labels.tolist() == [1, 0, 1, 0] and corpus.label_names == ("neg", "pos")


def test_jsonl_with_booleans(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "label": lab == "pos"}) for t, lab in ROWS) + "\n\n")
    corpus = load(path)
    assert corpus.texts == [t for t, _ in ROWS] and corpus.labels.tolist() == [1, 0, 1, 0]


def test_folder_of_pos_and_neg_files_ignores_unsup(tmp_path):
    for index, (text, label) in enumerate(ROWS):
        (tmp_path / label).mkdir(exist_ok=True)
        (tmp_path / label / f"{index}.txt").write_text(text)
    (tmp_path / "unsup").mkdir()
    (tmp_path / "unsup" / "9.txt").write_text("no label here")
    corpus = load(tmp_path)
    assert sorted(corpus.texts) == sorted(t for t, _ in ROWS)
    assert {t: int(lab) for t, lab in zip(corpus.texts, corpus.labels)} == {t: int(lab == "pos") for t, lab in ROWS}


def test_the_real_imdb_csv_header_works(tmp_path):
    path = tmp_path / "imdb_like.csv"
    path.write_text('file,id,rating,label,text\ntrain/pos/1_9.txt,1,9,1,"Great, <br />great"\n'
                    'train/neg/2_1.txt,2,1,0,"Bad ""film"""\n')
    corpus = load(path)
    assert corpus.texts == ["Great, <br />great", 'Bad "film"'] and corpus.label_names == ("neg", "pos")


@pytest.mark.parametrize("raw, names, expected", [
    ([0, 1, 1], ("neg", "pos"), [0, 1, 1]),
    (["1", "0"], ("neg", "pos"), [1, 0]),
    ([2, 1, 2], ("1", "2"), [1, 0, 1]),
    (["Positive", "negative"], ("negative", "Positive"), [1, 0]),
    (["spam", "ham"], ("ham", "spam"), [1, 0]),
    (["tiger", "cat"], ("cat", "tiger"), [1, 0]),
    ([True, False], ("neg", "pos"), [1, 0]),
])
def test_label_rule(raw, names, expected):
    keys = [label_rule.label_key(v, where="t") for v in raw]
    labels, found = label_rule.map_labels(keys, source="t")
    assert found == names and labels.tolist() == expected


def test_explicit_label_names_fix_the_order():
    keys = ["good", "bad", "good"]
    labels, names = label_rule.map_labels(keys, names=("good", "bad"), source="t")
    assert names == ("good", "bad") and labels.tolist() == [0, 1, 0]
    with pytest.raises(DataError, match="label 'meh', which is not one of the label names"):
        label_rule.map_labels(["meh", "bad"], names=("good", "bad"), source="t")


def test_numeric_labels_map_by_name_so_a_run_reads_its_own_file(tmp_path):
    """A run trained on 1/5 stars is named ("1", "5"); evaluate passes those names back."""
    path = write_csv(tmp_path / "stars.csv", [("a", "5"), ("b", "1"), ("c", "5")])
    trained = load(path)
    assert trained.label_names == ("1", "5") and trained.labels.tolist() == [1, 0, 1]
    again = load_corpus(TrainConfig(data=str(path)), label_names=trained.label_names)
    assert again.labels.tolist() == [1, 0, 1]
    labels, _ = label_rule.map_labels([0, 1], names=("neg", "pos"), source="t")
    assert labels.tolist() == [0, 1]
    with pytest.raises(DataError, match="not the label names 'neg', 'pos'"):
        label_rule.map_labels([1, 5], names=("neg", "pos"), source="t")


@pytest.mark.parametrize("rows, fragment", [
    ([], "holds no examples"),
    ([("a", "pos"), ("b", "pos")], "only one label"),
    ([(f"t{i}", f"l{i}") for i in range(128)], "128 different labels.*at most 127 classes"),
    ([("a", "1"), ("b", "neg")], "mixes numeric and text labels"),
    ([("a", "0.5"), ("b", "1")], "not usable"),
])
def test_label_problems_are_data_errors(tmp_path, rows, fragment):
    with pytest.raises(DataError, match=fragment):
        load(write_csv(tmp_path / "r.csv", rows))


def test_missing_column_lists_the_columns(tmp_path):
    with pytest.raises(DataError, match=r"no column 'text' \(columns: review, label\): pass --text-column"):
        load(write_csv(tmp_path / "r.csv", ROWS, header="review,label"))


def test_undecodable_bytes_name_the_file_and_the_fix(tmp_path):
    path = write_csv(tmp_path / "r.csv", ROWS + [("caf\u00e9 cr\u00e8me", "pos")], encoding="latin-1")
    with pytest.raises(DataError, match="r.csv is not valid utf-8.*pass --encoding"):
        load(path)
    assert "café crème" in load(path, encoding="latin-1").texts


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="does not exist: give 'synthetic', 'imdb'"):
        load(tmp_path / "nope.csv")
    (tmp_path / "r.parquet").write_bytes(b"x")
    with pytest.raises(DataError, match="cannot tell the format"):
        load(tmp_path / "r.parquet")


def test_bad_jsonl_line_is_located(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", label: 0}\n')
    with pytest.raises(DataError, match="r.jsonl line 2 is not JSON"):
        load(path)


def test_split_is_stratified_seeded_and_disjoint():
    labels = np.array([0] * 30 + [1] * 70, dtype=np.int8)
    train, validation = stratified_split(labels, 0.2, seed=3)
    assert set(train).isdisjoint(validation) and len(train) + len(validation) == 100
    assert np.sum(labels[validation] == 1) == 14 and np.sum(labels[validation] == 0) == 6
    again = stratified_split(labels, 0.2, seed=3)
    assert np.array_equal(again[1], validation)
    assert not np.array_equal(stratified_split(labels, 0.2, seed=4)[1], validation)


def test_a_class_too_small_to_split_is_named_as_the_user_wrote_it():
    # --label-names food,sports,tech with no 'tech' row: the message names 'tech', not only its index.
    labels = np.array([0] * 5 + [1] * 5, dtype=np.int8)
    with pytest.raises(DataError, match=r"^label 2 \('tech'\) has 0 examples: too few"):
        stratified_split(labels, 0.2, seed=0, classes=3, names=("food", "sports", "tech"))
    with pytest.raises(DataError, match=r"^label 2 has 0 examples"):
        stratified_split(labels, 0.2, seed=0, classes=3)


def test_tokenizer_is_fitted_on_the_training_part_only(tmp_path):
    # One unique marker word per example: validation markers must stay unknown to the tokenizer.
    rows = [(f"film marker{i}", "pos" if i % 2 else "neg") for i in range(40)]
    config = TrainConfig(data=str(write_csv(tmp_path / "r.csv", rows)), vocab_size=1000, maxlen=5, seed=1)
    prepared = prepare(load_corpus(config), config)
    _, validation = stratified_split(load_corpus(config).labels, 0.2, seed=1)
    vocabulary = set(prepared.tokenizer.words)
    held_out = {f"marker{i}" for i in validation}
    assert len(held_out) == 8 and not held_out & vocabulary
    assert len(vocabulary & {f"marker{i}" for i in range(40)}) == 32
    assert np.all(prepared.validation.ids[:, -1] == 1)  # the out-of-vocabulary id


def test_limit_takes_a_balanced_sample():
    corpus = load_corpus(TrainConfig(synthetic_size=200, seed=2))
    sample = limit_corpus(corpus, 50, seed=2)
    assert len(sample) == 50 and int(np.sum(sample.labels)) == 25
    assert set(sample.texts) <= set(corpus.texts)
