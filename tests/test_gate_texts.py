"""An imported model file gated on the user's own texts (`edgelstm export MODEL --texts FILE`).

Without labelled data, export gates every variant but full int8 on texts the user gives,
tokenized by the bundle's tokenizer and unlabelled (-1 in golden.npz); the mobile variant is
also run on them as raw text in MediaPipe. The manifest and the model card say what the gate used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.errors import ConfigError, DataError
from edgelstm.export.model_file import ModelFile
from edgelstm.runtime import mediapipe_client, textarrays
from edgelstm.train.config import TrainConfig
from edgelstm.train.sources import load_texts

pytestmark = pytest.mark.slow

WORDS = ["the", "film", "was", "great", "bad", "acting", "plot", "boring", "wonderful", "i", "liked", "it",
         "a", "and", "not", "very", "story", "music", "ending", "love"]
MAXLEN, ROWS = 12, 32  # the embedding has more rows than the vocabulary's ids (22)
GATE_TEXTS = ["The film was GREAT, and the acting wonderful!", "a boring plot... not very good",
              "I liked it", "unknown words only here", "the story, the music, the ending: love it " * 3,
              "Wonderful film; i love it"]


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    keras = pytest.importorskip("keras", reason="building the model needs Keras")
    folder = tmp_path_factory.mktemp("gate-texts")
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((MAXLEN,), dtype="int32"), keras.layers.Embedding(ROWS, 8),
                              keras.layers.LSTM(8), keras.layers.Dense(1, activation="sigmoid")])
    model.save(folder / "own.keras")
    (folder / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    (folder / "gate.txt").write_text("\n".join(GATE_TEXTS) + "\n\n", encoding="utf-8")  # a blank line is skipped
    return {"folder": folder, "model": folder / "own.keras", "vocabulary": folder / "vocab.txt",
            "texts": folder / "gate.txt"}


def test_export_gates_every_variant_on_the_given_texts(imported: dict, capsys: pytest.CaptureFixture) -> None:
    from edgelstm.main import main
    from edgelstm.runtime import Classifier
    from edgelstm.runtime.verify import verify_bundle

    out = imported["folder"] / "bundle"
    variants = ["onnx-fp32"] + (["mobile-fp32"] if mediapipe_client.is_installed() else [])
    assert main(["export", str(imported["model"]), "--vocabulary", str(imported["vocabulary"]),
                 "--texts", str(imported["texts"]), "--label-names", "neg,pos", "--out", str(out),
                 "--variants", ",".join(variants)]) == 0
    assert "every other variant is gated on unlabelled texts of gate.txt (--texts)" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    edge_cases = manifest["golden"]["edge_cases"]
    assert manifest["golden"]["held_out"] == len(GATE_TEXTS)
    assert "unlabelled texts of gate.txt (--texts)" in manifest["golden"]["source"]
    imported_record = manifest["source_run"]["config"]["imported"]
    assert imported_record["texts"] == "gate.txt" and imported_record["data"] is None
    assert "tflite-int8" not in manifest["variants"]
    with Classifier.load(out, variant="onnx-fp32") as model:
        tokenizer = model.tokenizer
    with np.load(out / "golden.npz") as golden:
        assert (golden["labels"] == -1).all() and golden["has_text"].all()
        assert textarrays.unpack(golden)[:len(GATE_TEXTS)] == GATE_TEXTS
        np.testing.assert_array_equal(golden["ids"][:len(GATE_TEXTS)], tokenizer.encode(GATE_TEXTS))
    for name in variants:
        parity = manifest["variants"][name]["parity"]
        assert parity["passed"] and parity["accuracy"] is None and parity["n"] == len(GATE_TEXTS) + edge_cases
    if "mobile-fp32" in variants:  # run in MediaPipe on the same texts, as raw text
        assert manifest["variants"]["mobile-fp32"]["mediapipe"]["texts"] == len(GATE_TEXTS) + edge_cases
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Imported from the Keras model file `own.keras`" in card
    assert f"{len(GATE_TEXTS)} unlabelled texts of gate.txt (--texts) and {edge_cases} edge cases" in card
    assert verify_bundle(out).passed


def test_texts_are_read_from_lines_or_the_text_column_of_a_table(tmp_path: Path) -> None:
    lines = tmp_path / "texts.txt"
    lines.write_text("first text\r\n\r\nsecond, with a comma\n", encoding="utf-8")
    table = tmp_path / "texts.csv"
    table.write_text('review,stars\n"first text",5\n"second, with a comma",\n', encoding="utf-8")
    jsonl = tmp_path / "texts.jsonl"
    jsonl.write_text('{"review": "first text"}\n{"review": "second, with a comma"}\n', encoding="utf-8")
    expected = ["first text", "second, with a comma"]
    assert load_texts(TrainConfig(data=str(lines))) == expected
    assert load_texts(TrainConfig(data=str(table), text_column="review")) == expected  # no label column needed
    assert load_texts(TrainConfig(data=str(jsonl), text_column="review")) == expected
    with pytest.raises(DataError, match="has no column 'text'.*pass --text-column NAME"):
        load_texts(TrainConfig(data=str(table)))
    (tmp_path / "blank.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataError, match="holds no text: give one text per line"):
        load_texts(TrainConfig(data=str(tmp_path / "blank.txt")))


def test_texts_and_data_together_are_refused(tmp_path: Path) -> None:
    model, vocabulary, texts = (tmp_path / name for name in ("m.keras", "v.txt", "t.txt"))
    for path in (model, vocabulary, texts):
        path.write_text("x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="--data and --texts both name the texts to gate on: give --data"):
        ModelFile(model=model, vocabulary=vocabulary, data=texts, texts=texts)
    with pytest.raises(ConfigError, match="no such file"):
        ModelFile(model=model, vocabulary=vocabulary, texts=tmp_path / "absent.txt", label_names=("a", "b"))
