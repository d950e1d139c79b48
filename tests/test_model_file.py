"""Exporting a Keras model file someone already has (edgelstm.export.model_file).

The acceptance case of issue 11: the classic Keras IMDB example's code, changed only to read
the local IMDB train split, train one epoch on a sample and be small enough for a test, then
`model.save(...)`; one `edgelstm export` command makes a verified bundle, and `predict` on raw
text gives what the example's own pipeline (word index, pad_sequences, model.predict) gives.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from edgelstm.core.errors import ConfigError, DataError
from edgelstm.export.model_file import ModelFile, build_tokenizer, drawn_rows, read_vocabulary
from edgelstm.runtime.tokenizer import Tokenizer

NUM_WORDS, MAXLEN = 10000, 200  # the example's
TRAIN_ROWS = 2000  # of the 2,500-review sample; the other 500 are the held-out data export gates on
RAW_TEXTS = ["this movie was wonderful and the acting was great", "a boring and terrible film with a bad plot",
             "i have seen it twice"]


def _classic_example() -> ModuleType:
    """scripts/classic_imdb.py: the example's own encoding of a review, kept in one place."""
    path = Path(__file__).resolve().parents[1] / "scripts" / "classic_imdb.py"
    spec = importlib.util.spec_from_file_location("classic_imdb", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example_encoding = _classic_example().keras_encoding


@pytest.fixture(scope="module")
def imdb_folder() -> Path:
    folder = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imdb"
    if not (folder / "imdb_train_sample2500.csv.gz").is_file():
        pytest.skip(f"the IMDB sample is not in {folder}")
    return folder


@pytest.fixture(scope="module")
def tutorial(imdb_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The example trained one epoch on 2,000 reviews and saved as .keras and .h5; 500 held out as CSV."""
    keras = pytest.importorskip("keras", reason="training the example needs Keras")
    folder = tmp_path_factory.mktemp("tutorial")
    index = json.loads((imdb_folder / "imdb_word_index.json").read_text(encoding="utf-8"))
    with gzip.open(imdb_folder / "imdb_train_sample2500.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = [rows[i] for i in np.random.RandomState(113).permutation(len(rows))]
    x = keras.utils.pad_sequences([example_encoding(row["text"], index) for row in rows[:TRAIN_ROWS]], maxlen=MAXLEN)
    y = np.array([int(row["label"]) for row in rows[:TRAIN_ROWS]])
    keras.utils.set_random_seed(0)
    # The example's model, narrower so the test stays fast: Embedding(10000, 128), LSTM(128) there.
    model = keras.Sequential([keras.layers.Embedding(NUM_WORDS, 16), keras.layers.LSTM(16),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    model.save(folder / "tutorial.keras")
    model.save(folder / "tutorial.h5")
    held_out = folder / "held_out.csv"
    with open(held_out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows({"text": row["text"], "label": row["label"]} for row in rows[TRAIN_ROWS:])
    expected = model.predict(keras.utils.pad_sequences([example_encoding(t, index) for t in RAW_TEXTS],
                                                       maxlen=MAXLEN), verbose=0).reshape(-1)
    return {"folder": folder, "held_out": held_out, "expected": expected,
            "word_index": imdb_folder / "imdb_word_index.json"}


def _export(tutorial: dict, model: str, out: str, *variants: str) -> int:
    from edgelstm.main import main

    return main(["export", str(tutorial["folder"] / model), "--word-index", str(tutorial["word_index"]),
                 "--data", str(tutorial["held_out"]), "--label-names", "neg,pos",
                 "--out", str(tutorial["folder"] / out), "--variants", ",".join(variants)])


def test_the_classic_example_saved_as_keras_exports_and_predicts_as_its_own_pipeline(tutorial: dict) -> None:
    from edgelstm.runtime import Classifier
    from edgelstm.runtime.verify import verify_bundle

    assert _export(tutorial, "tutorial.keras", "bundle", "onnx-fp32", "tflite-fp32") == 0
    bundle = tutorial["folder"] / "bundle"
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["task"]["labels"] == ["neg", "pos"] and manifest["task"]["maxlen"] == MAXLEN
    assert manifest["task"]["tokenizer"] == "keras-imdb" and manifest["task"]["vocab_size"] == NUM_WORDS
    assert manifest["source_run"]["config"]["imported"]["model_file"] == "tutorial.keras"
    assert manifest["golden"]["held_out"] == 500 - 100  # a fifth of the 500 kept apart for calibration
    assert verify_bundle(bundle).passed
    for variant, backend in (("onnx-fp32", "onnxruntime"), ("tflite-fp32", "litert"), ("onnx-fp32", "numpy")):
        with Classifier.load(bundle, variant=variant, backend=backend) as model:
            got = np.asarray(model.predict_proba(RAW_TEXTS), np.float32)
        # the float32 variants' bound against Keras (core.variants)
        np.testing.assert_allclose(got, tutorial["expected"], atol=1e-4, rtol=0, err_msg=f"{variant} on {backend}")


def test_the_legacy_h5_file_exports_too(tutorial: dict) -> None:
    from edgelstm.runtime import Classifier

    assert _export(tutorial, "tutorial.h5", "bundle-h5", "onnx-fp32") == 0
    with Classifier.load(tutorial["folder"] / "bundle-h5", variant="onnx-fp32") as model:
        got = np.asarray(model.predict_proba(RAW_TEXTS), np.float32)
    np.testing.assert_allclose(got, tutorial["expected"], atol=1e-4, rtol=0)


def test_without_data_the_variants_are_gated_on_drawn_ids_and_full_int8_is_skipped(tutorial: dict, capsys) -> None:
    from edgelstm.main import main
    from edgelstm.runtime import Classifier

    out = tutorial["folder"] / "bundle-no-data"
    command = ["export", str(tutorial["folder"] / "tutorial.keras"), "--word-index", str(tutorial["word_index"]),
               "--label-names", "neg,pos", "--out", str(out)]
    assert main([*command, "--variants", "tflite-int8"]) == 2  # asked for, and impossible without texts
    assert "tflite-int8 is calibrated on real texts: give --data" in capsys.readouterr().err
    assert main([*command, "--variants", "onnx-fp32"]) == 0
    assert "no --data: tflite-int8 is skipped" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    parity = manifest["variants"]["onnx-fp32"]["parity"]
    assert parity["passed"] and parity["accuracy"] is None and parity["label_agreement"] == 1.0
    with np.load(out / "golden.npz") as golden:
        # the drawn rows, then the edge cases
        assert (golden["labels"] == -1).all() and len(golden["labels"]) == 300 + manifest["golden"]["edge_cases"]
    with Classifier.load(out, variant="onnx-fp32") as model:
        got = np.asarray(model.predict_proba(RAW_TEXTS), np.float32)
    np.testing.assert_allclose(got, tutorial["expected"], atol=1e-4, rtol=0)


def test_the_run_made_from_a_model_file_keeps_the_held_out_texts(tutorial: dict, tmp_path: Path) -> None:
    """validation.npz carries the gate's raw texts (the mobile variants are checked on them in MediaPipe)."""
    from edgelstm.core import rundir
    from edgelstm.export.model_file import write_run
    from edgelstm.runtime import textarrays

    source = ModelFile(model=tutorial["folder"] / "tutorial.keras", data=tutorial["held_out"],
                       word_index=tutorial["word_index"])
    run = rundir.read_run(write_run(source, tmp_path, log=lambda line: None))
    with open(tutorial["held_out"], encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    with np.load(run.root / rundir.VALIDATION) as arrays:
        kept = textarrays.unpack(arrays)
    assert kept is not None and len(kept) == len(run.validation["ids"]) == 400 and set(kept) <= set(texts)
    tokenizer = run.tokenizer
    np.testing.assert_array_equal(tokenizer.encode(kept[:20]), run.validation["ids"][:20])


def test_a_model_file_outside_the_family_is_refused_before_converting(tutorial: dict, tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from edgelstm.core.errors import ExportError
    from edgelstm.export.model_file import export_model_file

    model = keras.Sequential([keras.Input((MAXLEN,), dtype="int32"), keras.layers.Embedding(NUM_WORDS, 4),
                              keras.layers.Conv1D(4, 3), keras.layers.GlobalMaxPooling1D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.save(tmp_path / "cnn.keras")
    source = ModelFile(model=tmp_path / "cnn.keras", data=tutorial["held_out"], word_index=tutorial["word_index"])
    with pytest.raises(ExportError, match="Conv1D.*LSTM or GRU") as caught:
        export_model_file(source, tmp_path / "bundle", log=lambda line: None)
    assert not (tmp_path / "bundle").exists() and "\n" not in str(caught.value)


def test_model_file_options_are_checked_before_any_work(tmp_path: Path) -> None:
    model = tmp_path / "m.keras"
    model.write_bytes(b"not read here")
    data = tmp_path / "d.csv"
    with pytest.raises(ConfigError, match="accepted are a run directory or a file ending in .keras, .h5"):
        ModelFile(model=tmp_path / "m.pt", data=data, tokenizer=model)
    with pytest.raises(ConfigError, match="give exactly one of --word-index, --tokenizer, --vocabulary"):
        ModelFile(model=model, data=data)
    with pytest.raises(ConfigError, match="without --data the labels cannot be read: give --label-names"):
        ModelFile(model=model, tokenizer=model)
    with pytest.raises(ConfigError, match=r"\(got --word-index, --vocabulary\)"):
        ModelFile(model=model, data=data, word_index=model, vocabulary=model)
    with pytest.raises(ConfigError, match="--num-words belongs to the Keras IMDB encoding"):
        ModelFile(model=model, data=data, vocabulary=model, num_words=5)


def test_a_vocabulary_file_maps_lines_to_ids_from_two(tmp_path: Path) -> None:
    plain, keras_layout = tmp_path / "plain.txt", tmp_path / "text_vectorization.txt"
    plain.write_text("great\nbad\nfilm\n", encoding="utf-8")
    keras_layout.write_text("\n[UNK]\ngreat\nbad\nfilm\n", encoding="utf-8")  # TextVectorization.get_vocabulary()
    assert read_vocabulary(plain) == read_vocabulary(keras_layout) == ["great", "bad", "film"]
    source = ModelFile(model=_file(tmp_path / "m.keras"), data=tmp_path / "d.csv", vocabulary=plain)
    tokenizer = build_tokenizer(source, maxlen=4, rows=5)
    assert tokenizer.encode(["a great film"]).tolist() == [[0, 1, 2, 4]]  # a: unknown (1), great 2, film 4
    with pytest.raises(ConfigError, match="ids up to 4 but the model's embedding has 4 rows"):
        build_tokenizer(source, maxlen=4, rows=4)
    (tmp_path / "twice.txt").write_text("great\ngreat\n", encoding="utf-8")
    with pytest.raises(DataError, match="a word appears twice"):
        read_vocabulary(tmp_path / "twice.txt")


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_drawn_rows_are_padded_on_the_side_the_tokenizer_pads(padding: str) -> None:
    """Without data or texts the gate runs on drawn ids: laid out as the runtime will feed them
    (a TextVectorization tokenizer pads after the ids), every length from 1 to maxlen."""
    tokenizer = Tokenizer(kind="vocab", maxlen=6, vocab_size=12, words=[f"w{i}" for i in range(10)],
                          padding=padding, truncating=padding)
    rows = drawn_rows(tokenizer, 6, seed=0)
    assert rows["lengths"].tolist() == [1, 2, 3, 4, 5, 6]
    for ids, length in zip(rows["ids"], rows["lengths"]):
        real = np.arange(length) if padding == "post" else np.arange(len(ids) - length, len(ids))
        assert ((ids[real] >= 2) & (ids[real] < 12)).all()  # words only: neither padding (0) nor unknown (1)
        assert not np.delete(ids, real).any()  # the rest is padding


def _file(path: Path) -> Path:
    path.write_bytes(b"")
    return path
