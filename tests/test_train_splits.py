"""The fixed report split: disjoint, class-balanced, the same bytes every time (no TensorFlow)."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from edgelstm.core.errors import ConfigError
from edgelstm.train import splits
from edgelstm.train.config import TrainConfig
from edgelstm.train.sources import load_corpus


@pytest.fixture
def labelled_csv(tmp_path):
    path = tmp_path / "reviews.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(60):
            writer.writerow([f"review number {i}, with a comma" if i % 2 else f"plain review {i}", i % 3 == 0])
    return path


def _rows(path):
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_report_and_develop_are_disjoint_balanced_and_cover_the_data(labelled_csv, tmp_path):
    summary = splits.write_splits(str(labelled_csv), tmp_path / "s", size=10)
    develop, report = (_rows(tmp_path / "s" / name) for name in splits.FILES)
    assert len(report) == 10 and len(develop) == 50
    assert sorted(r["label"] for r in report) == ["False"] * 5 + ["True"] * 5
    assert not {r["text"] for r in report} & {r["text"] for r in develop}
    assert json.loads((tmp_path / "s" / "splits.json").read_text()) == summary
    # the files read back like any labelled CSV, with the same label names
    corpus = load_corpus(TrainConfig(data=str(tmp_path / "s" / "report.csv.gz")))
    assert len(corpus) == 10 and corpus.label_names == ("False", "True")


def test_the_same_seed_writes_the_same_bytes_and_another_seed_another_split(labelled_csv, tmp_path):
    first = splits.write_splits(str(labelled_csv), tmp_path / "a", size=10)
    again = splits.write_splits(str(labelled_csv), tmp_path / "b", size=10)
    other = splits.write_splits(str(labelled_csv), tmp_path / "c", size=10, seed=7)
    assert first["report.csv.gz"]["sha256"] == again["report.csv.gz"]["sha256"]
    assert (tmp_path / "a" / "develop.csv.gz").read_bytes() == (tmp_path / "b" / "develop.csv.gz").read_bytes()
    assert other["report.csv.gz"]["sha256"] != first["report.csv.gz"]["sha256"]


def test_a_report_size_leaving_nothing_to_train_on_is_refused(labelled_csv, tmp_path):
    with pytest.raises(ConfigError, match="report size 59 must leave examples on both sides: accepted is 2..58"):
        splits.write_splits(str(labelled_csv), tmp_path / "s", size=59)
