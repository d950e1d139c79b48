"""The IMDB paths: the real reviews (marker `imdb`), the Keras imdb.npz encoding, and the offline message."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelstm.main import main
from edgelstm.runtime.tokenizer import Tokenizer, keras_imdb_words
from edgelstm.train import imdb

REPO = Path(__file__).resolve().parents[1]
IMDB_DIR = Path(os.environ.get("EDGELSTM_IMDB_DIR", REPO.parent / "shared" / "data" / "imdb"))
SAMPLE = IMDB_DIR / "imdb_train_sample2500.csv.gz"
WORD_INDEX = IMDB_DIR / "imdb_word_index.json"
SMALL = ["--vocab-size", "2000", "--maxlen", "80", "--embedding-dim", "16", "--lstm-units", "16",
         "--epochs", "1", "--calibration-size", "32", "--quiet"]

needs_imdb = pytest.mark.skipif(not SAMPLE.exists() or not WORD_INDEX.exists(),
                                reason=f"IMDB data not found in {IMDB_DIR} (set EDGELSTM_IMDB_DIR)")


def sample_rows(count: int) -> list[dict[str, str]]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows[:count // 2] + rows[-(count // 2):]  # the file lists pos then neg


@pytest.mark.imdb
@pytest.mark.slow
@needs_imdb
def test_short_training_on_real_reviews_and_evaluation(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(SAMPLE), "--limit", "400", "--out", str(run), *SMALL]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["labels"] == ["neg", "pos"] and metrics["data"]["counts"] == {"neg": 200, "pos": 200}
    assert Tokenizer.load(run / "tokenizer.json").kind == "vocab"
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(SAMPLE), "--limit", "300", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == 300 and result["overlaps_training_data"] is True
    assert 0.0 <= result["accuracy"] <= 1.0 and np.isfinite(result["loss"])


@pytest.fixture(scope="module")
def fake_keras_npz(tmp_path_factory):
    """An imdb.npz laid out like Keras' (ragged rank lists, pickled), built from real sample reviews."""
    index = json.loads(WORD_INDEX.read_text())
    rows = sample_rows(300)
    ranks = [[index[w] for w in keras_imdb_words(row["text"]) if w in index] for row in rows]
    folder = tmp_path_factory.mktemp("keras")
    ragged = np.empty(len(ranks), dtype=object)
    ragged[:] = ranks
    np.savez(folder / "imdb.npz", x_train=ragged, y_train=np.array([int(r["label"]) for r in rows]),
             x_test=ragged[:2], y_test=np.array([0, 1]))
    (folder / "imdb_word_index.json").write_bytes(WORD_INDEX.read_bytes())
    return folder / "imdb.npz", rows


@pytest.mark.imdb
@needs_imdb
def test_npz_encoding_matches_the_raw_text_tokenizer(fake_keras_npz):
    """A model trained on imdb.npz must see the same ids for a text as the runtime produces from it."""
    npz, rows = fake_keras_npz
    sequences, labels = imdb.load_train_split(npz, num_words=5000)
    order = np.arange(len(rows))
    np.random.RandomState(113).shuffle(order)  # Keras' documented shuffle
    tokenizer = Tokenizer.from_keras_word_index(imdb.read_word_index(WORD_INDEX), num_words=5000, maxlen=200)
    for position, row_index in enumerate(order[:50]):
        assert sequences[position] == tokenizer.tokens_to_ids(rows[row_index]["text"])
        assert labels[position] == int(rows[row_index]["label"])
    assert any(2 in s for s in sequences)  # ranks beyond num_words became the OOV id


@pytest.mark.imdb
@pytest.mark.slow
@needs_imdb
def test_train_on_a_local_imdb_npz(fake_keras_npz, tmp_path):
    npz, _ = fake_keras_npz
    run = tmp_path / "run"
    assert main(["train", "--data", "imdb", "--imdb-npz", str(npz), "--out", str(run), *SMALL]) == 0
    tokenizer = Tokenizer.load(run / "tokenizer.json")
    assert tokenizer.kind == "keras-imdb" and tokenizer.vocab_size == 2000
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["source"].startswith("imdb:") and metrics["labels"] == ["neg", "pos"]
    with np.load(run / "validation.npz") as validation:
        ids, lengths = validation["ids"], validation["lengths"]
    whole = lengths < ids.shape[1]  # longer reviews lost their start id to front truncation
    assert whole.sum() >= 3 and np.all(ids[whole, -lengths[whole]] == 1)


def test_a_file_that_is_not_an_npz(tmp_path, capsys):
    bad = tmp_path / "imdb.npz"
    bad.write_text("not a zip")
    assert main(["train", "--data", "imdb", "--imdb-npz", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "is not a readable Keras imdb.npz" in capsys.readouterr().err


@pytest.mark.slow
def test_offline_without_npz_says_what_to_do(tmp_path):
    """No network here besides package registries: the download must fail fast with a way out."""
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras")}  # an empty cache
    result = subprocess.run([sys.executable, "-m", "edgelstm", "train", "--data", "imdb", "--out", str(tmp_path / "r")],
                            capture_output=True, text=True, env=env, timeout=180)
    if result.returncode == 0:
        pytest.skip("this machine is online: the download worked")
    assert result.returncode == 2, result.stderr
    assert "cannot download imdb.npz" in result.stderr and "--imdb-npz PATH" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
