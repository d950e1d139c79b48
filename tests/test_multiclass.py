"""More than two classes (issue 11 section 2): a Dense(C, softmax) head from training to every client.

One tiny 3-class run (tests/helpers/topics.py, labels food/sports/tech) and its bundle of every
default variant are built once for the module with the real TensorFlow, tf2onnx, onnxruntime,
LiteRT and MediaPipe; the unit tests above them need none of that.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import topics

from edgelstm.core.errors import ConfigError, DataError
from edgelstm.core.outputs import as_scores, label_columns, predicted_labels
from edgelstm.main import main
from edgelstm.runtime.parity import compare
from edgelstm.train import labels as label_rule
from edgelstm.train.scoring import confusion_matrix, per_class, scores

LABELS = ["food", "sports", "tech"]  # sorted: the default order of text labels
TEXTS = ["the team won the match with a late goal", "my laptop battery died after the update",
         "a spicy garlic soup recipe", "", "they played football today and the code was new"]
FLOAT32_BOUND = 1e-4  # the variant table's fp32 max |dp|, what predict_proba is held to against Keras


# --- the label rule --------------------------------------------------------------------------------

def test_text_labels_are_sorted_and_names_given_fix_the_order():
    keys = ["tech", "food", "sports", "food"]
    labels, names = label_rule.map_labels(keys, source="t")
    assert names == ("food", "sports", "tech") and labels.tolist() == [2, 0, 1, 0]
    labels, names = label_rule.map_labels(keys, names=("Tech", "sports", "FOOD"), source="t")
    assert names == ("Tech", "sports", "FOOD") and labels.tolist() == [0, 2, 1, 2]


def test_numeric_labels_ascend_and_keep_their_value_or_match_by_name():
    labels, names = label_rule.map_labels([3, 1, 2, 1], source="t")
    assert names == ("1", "2", "3") and labels.tolist() == [2, 0, 1, 0]
    labels, names = label_rule.map_labels([0, 2, 1], source="t")
    assert names == ("0", "1", "2") and labels.tolist() == [0, 2, 1]  # 0/1 are neg/pos only when alone
    labels, _ = label_rule.map_labels([2, 0], names=("a", "b", "c"), source="t")
    assert labels.tolist() == [2, 0]
    labels, _ = label_rule.map_labels([5, 1], names=("1", "3", "5"), source="t")  # stars named by value
    assert labels.tolist() == [2, 0]


def test_a_label_the_names_lack_is_one_line_naming_it_and_the_known_ones():
    with pytest.raises(DataError, match=r"^t has the label 'music', which is not one of the label names "
                                        r"'food', 'sports', 'tech'$"):
        label_rule.map_labels(["food", "music"], names=tuple(LABELS), source="t")
    with pytest.raises(DataError, match=r"numeric labels \[0, 7\].*labels 0\.\.2"):
        label_rule.map_labels([0, 7], names=tuple(LABELS), source="t")


def test_label_names_are_checked_as_a_config_field():
    from edgelstm.train.config import TrainConfig

    assert TrainConfig(label_names=["a", "b", "c"]).label_names == ("a", "b", "c")
    for bad in (["a"], ["a", "A"], ["a", ""]):
        with pytest.raises(ConfigError, match="must be 2 to 127 different non-empty names"):
            TrainConfig(label_names=bad)


# --- scores and parity on C columns ---------------------------------------------------------------

def test_per_class_figures_and_the_confusion_matrix_from_probabilities():
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.5, 0.4, 0.1]], np.float32)
    truth = np.array([0, 1, 1, 2, 0])
    matrix = confusion_matrix(probs, truth, 3)
    assert matrix == [[2, 0, 0], [1, 1, 0], [0, 0, 1]]
    rows = per_class(matrix, LABELS)
    assert rows[0] == {"label": "food", "precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    assert rows[1]["precision"] == 1.0 and rows[1]["recall"] == 0.5 and rows[1]["f1"] == pytest.approx(2 / 3)
    result = scores(probs, truth, LABELS)
    assert result["accuracy"] == pytest.approx(0.8)
    assert result["loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.3, 0.7, 0.5])), rel=1e-6)
    assert result["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 1.0) / 3)


def test_a_label_never_predicted_has_no_precision_rather_than_zero():
    rows = per_class([[3, 0], [2, 0]], ["a", "b"])
    assert rows[1]["precision"] is None and rows[1]["recall"] == 0.0 and rows[1]["f1"] is None


def test_two_label_outputs_keep_their_one_column_and_c_labels_keep_theirs():
    assert as_scores(np.array([[0.2], [0.9]])).shape == (2,)
    assert as_scores(np.array([[0.8, 0.2]])).tolist() == pytest.approx([0.2])  # (p0, p1): label 1's
    assert as_scores(np.ones((4, 3)) / 3).shape == (4, 3)
    assert predicted_labels(np.array([0.5, 0.49])).tolist() == [1, 0]
    assert predicted_labels(np.array([[0.2, 0.5, 0.3], [0.4, 0.3, 0.3]])).tolist() == [1, 0]
    assert label_columns(np.array([0.25])).tolist() == [[0.75, 0.25]]


def test_the_gate_takes_the_largest_difference_over_every_label_and_the_argmax():
    reference = np.array([[0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.34, 0.33, 0.33]])
    moved = reference.copy()
    moved[1] = [0.1, 0.15, 0.75]  # label 2 still wins: agreement kept, |dp| 0.05 on two columns
    moved[2] = [0.32, 0.35, 0.33]  # label 1 now wins: one of three labels differs
    parity = compare(moved, reference, variant="onnx-fp32", labels=np.array([0, 2, 1]))
    assert parity.max_abs_diff == pytest.approx(0.05) and parity.label_agreement == pytest.approx(2 / 3)
    assert parity.accuracy == pytest.approx(100.0) and parity.reference_accuracy == pytest.approx(200 / 3)
    assert any("label agreement" in failure for failure in parity.failures)
    with pytest.raises(ValueError, match="cannot be compared"):
        compare(reference[:, 0], reference, variant="onnx-fp32")


def test_run_directory_labels_must_fit_its_label_count(tmp_path):
    from edgelstm.core import rundir

    assert rundir.check_labels(tmp_path, LABELS) == 3
    with pytest.raises(DataError, match="must list 2 to 127 different label names"):
        rundir.check_labels(tmp_path, ["a", "a"])


# --- one tiny 3-class run and bundle, through every stage ----------------------------------------

@pytest.fixture(scope="module")
def topic_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("topics")
    return {"train": topics.write_csv(folder / "train.csv", 900, seed=0),
            "held_out": topics.write_csv(folder / "held_out.csv", 150, seed=1),
            # names in another case, numbers for none: mapped onto the run's labels by name
            "renamed": topics.write_csv(folder / "renamed.csv", 60, seed=2, label_of=str.upper),
            "folder": folder}


@pytest.fixture(scope="module")
def topic_run(topic_data: dict[str, Path], tiny_recipe: dict) -> Path:
    pytest.importorskip("tensorflow", reason="training needs TensorFlow")
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.fit import train

    recipe = {**tiny_recipe, "data": str(topic_data["train"]), "vocab_size": 200, "maxlen": 24, "epochs": 8}
    return train(TrainConfig(**recipe), topic_data["folder"] / "run", verbose=0)


@pytest.fixture(scope="module")
def topic_bundle(topic_run: Path) -> tuple[Path, list[str]]:
    """Every default variant of the 3-class run (the export's log kept: it names any rejection)."""
    from edgelstm.export.pipeline import export_run

    log: list[str] = []
    return export_run(topic_run, topic_run.parent / "bundle", log=log.append), log


def test_training_builds_a_softmax_head_and_records_the_label_order(topic_run: Path):
    import keras

    metrics = json.loads((topic_run / "metrics.json").read_text())
    assert metrics["labels"] == LABELS
    assert metrics["recipe"]["loss"] == "sparse_categorical_crossentropy"
    assert {"cce", "val_cce", "accuracy"} <= set(metrics["history"][0])
    model = keras.saving.load_model(topic_run / "model.keras", compile=False)
    assert model.output_shape == (None, 3) and model.layers[-1].get_config()["activation"] == "softmax"
    validation = metrics["validation"]
    assert [row["label"] for row in validation["per_class"]] == LABELS
    assert np.array(validation["confusion_matrix"]).shape == (3, 3)
    assert validation["accuracy"] > 0.8  # the topics are easy: a model that learned nothing scores 1/3


def test_evaluate_prints_and_writes_per_label_figures(topic_run: Path, topic_data: dict, capsys, tmp_path: Path):
    out = tmp_path / "held_out.json"
    assert main(["evaluate", str(topic_run), "--data", str(topic_data["held_out"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["labels"] == LABELS and result["examples"] == 150
    matrix = np.array(result["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == 150 and matrix.sum(axis=1).tolist() == [50, 50, 50]
    for row, name in zip(result["per_class"], LABELS):
        index = LABELS.index(name)
        assert row["recall"] == pytest.approx(matrix[index, index] / 50)
        assert f"{name:>8}" in printed and f"{row['f1']:.4f}" in printed
    assert "precision" in printed and "confusion matrix" in printed and f"{result['macro_f1']:.4f}" in printed


def test_evaluate_maps_a_files_labels_by_name_and_refuses_an_unknown_one(topic_run: Path, topic_data: dict,
                                                                          capsys, tmp_path: Path):
    assert main(["evaluate", str(topic_run), "--data", str(topic_data["renamed"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [row["support"] for row in result["per_class"]] == [20, 20, 20]
    assert result["accuracy"] > 0.8  # FOOD is food: had the names been re-sorted it would be near chance
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("text,label\na goal,sports\nsome song,music\n", encoding="utf-8")
    assert main(["evaluate", str(topic_run), "--data", str(unknown)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'music'" in err and "'food', 'sports', 'tech'" in err


def test_every_default_variant_is_gated_on_every_label(topic_bundle):
    from edgelstm.runtime.bundle import Bundle

    path, log = topic_bundle
    bundle = Bundle.open(path)
    task = bundle.manifest.task
    assert list(task.labels) == LABELS and task.output == "softmax"
    golden = bundle.golden()
    assert golden["keras_probs"].shape == (len(golden["ids"]), 3)
    assert np.allclose(golden["keras_probs"].sum(axis=1), 1.0, atol=1e-5)
    assert bundle.manifest.variants, log
    for entry in bundle.manifest.variants.values():
        assert entry.status == "passed" and entry.parity["label_agreement"] >= entry.tolerance.min_label_agreement
    # tflite-int8 was calibrated on the three classes and gated like the others (or rejected, with its reason)
    assert "tflite-int8" in bundle.manifest.variants or "tflite-int8" in bundle.manifest.rejected, log
    mobile = [name for name in bundle.manifest.variants if name.startswith("mobile-")]
    assert mobile or bundle.manifest.skipped, log
    for name in mobile:
        assert list(bundle.variant(name).mediapipe.labels) == LABELS


@pytest.mark.parametrize("backend", ["onnxruntime", "litert", "numpy"])
def test_predict_proba_is_n_by_c_and_equals_keras(topic_bundle, topic_run: Path, backend: str):
    import keras

    from edgelstm.runtime import Classifier

    path, _ = topic_bundle
    variant = "tflite-fp32" if backend == "litert" else "onnx-fp32"
    model = keras.saving.load_model(topic_run / "model.keras", compile=False)
    with Classifier.load(path, variant=variant, backend=backend) as classifier:
        probs = classifier.predict_proba(TEXTS)
        expected = model.predict(classifier.encode(TEXTS), verbose=0)
        one = classifier.predict_proba(TEXTS[0])
        predictions = classifier.predict(TEXTS)
    assert probs.shape == (len(TEXTS), 3) and probs.dtype == np.float32
    assert np.abs(probs - expected).max() <= FLOAT32_BOUND
    assert one.shape == (3,) and np.allclose(one, probs[0])
    assert [p.label for p in predictions] == [LABELS[i] for i in np.argmax(expected, axis=1)]
    for prediction, row in zip(predictions, probs):
        assert prediction.probabilities == pytest.approx(row.tolist())
        assert prediction.probability == pytest.approx(row.max()) and prediction.score == prediction.probability
    assert [p.label for p in predictions[:3]] == ["sports", "tech", "food"]


def test_predict_cli_names_every_labels_probability_on_each_engine(topic_bundle, capsys, tmp_path: Path):
    path, _ = topic_bundle
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(t for t in TEXTS if t) + "\n", encoding="utf-8")
    assert main(["predict", str(path), "--input", str(texts), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["predict", str(path), "--input", str(texts), "--json", "--workers", "2"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == rows
    for row in rows:
        assert list(row["probabilities"]) == LABELS
        assert row["probabilities"][row["label"]] == row["probability"] == max(row["probabilities"].values())
    assert main(["predict", str(path), TEXTS[1]]) == 0
    label, probability, text = capsys.readouterr().out.rstrip("\n").split("\t")
    assert label == "tech" and float(probability) == pytest.approx(rows[1]["probability"], abs=1e-4)


def test_verify_passes_on_every_variant_and_backend(topic_bundle, capsys):
    path, _ = topic_bundle
    assert main(["verify", str(path)]) == 0
    assert "PASSED" in capsys.readouterr().out


def test_mediapipe_returns_one_named_score_per_label(topic_bundle):
    from edgelstm.runtime import mediapipe_client
    from edgelstm.runtime.bundle import Bundle

    path, _ = topic_bundle
    bundle = Bundle.open(path)
    if "mobile-fp32" not in bundle.manifest.variants or not mediapipe_client.is_installed():
        pytest.skip(f"no mobile-fp32 here: {bundle.manifest.skipped or bundle.manifest.rejected}")
    with mediapipe_client.open_classifier(bundle.read_checked("model-mobile-fp32.tflite")) as classifier:
        categories = classifier.classify(TEXTS[0]).classifications[0].categories
    assert sorted((c.index, c.category_name) for c in categories) == list(enumerate(LABELS))
    assert max(categories, key=lambda c: c.score).category_name == "sports"
    assert sum(c.score for c in categories) == pytest.approx(1.0, abs=1e-5)


def test_a_two_label_bundle_keeps_its_one_probability(tiny_bundle: Path):
    from edgelstm.runtime import Classifier

    with Classifier.load(tiny_bundle, backend="numpy") as classifier:
        one, many = classifier.predict_proba("a quietly wonderful film"), classifier.predict_proba(["a", "b c"])
        prediction = classifier.predict("a quietly wonderful film")
    assert isinstance(one, float) and many.shape == (2,)
    assert prediction.score == pytest.approx(one) and prediction.probabilities == pytest.approx((1 - one, one))
    assert classifier.bundle.manifest.task.output == "sigmoid"


# --- a .keras file with a softmax head ------------------------------------------------------------

def _softmax_model_file(topic_run: Path, folder: Path, *, classes: int = 3) -> Path:
    """A user's own Embedding -> LSTM -> Dense(classes, softmax), trained briefly on the run's ids."""
    import keras

    from edgelstm.runtime.tokenizer import Tokenizer

    tokenizer = Tokenizer.load(topic_run / "tokenizer.json")
    rows = topics.texts(300, seed=3)
    ids = tokenizer.encode([text for text, _ in rows])
    y = np.array([LABELS.index(topic) for _, topic in rows]) % classes
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((tokenizer.maxlen,), dtype="int32"),
                              keras.layers.Embedding(tokenizer.vocab_size, 8), keras.layers.LSTM(8),
                              keras.layers.Dense(classes, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-2))
    model.fit(ids, y, epochs=3, batch_size=32, verbose=0)
    path = folder / f"topics{classes}.keras"
    model.save(path)
    return path


def test_a_keras_file_with_a_softmax_head_exports_with_its_label_names(topic_run: Path, topic_data: dict,
                                                                        tmp_path: Path):
    import keras

    from edgelstm.export.model_file import ModelFile, export_model_file
    from edgelstm.runtime import Classifier

    model_path = _softmax_model_file(topic_run, tmp_path)
    source = ModelFile(model=model_path, tokenizer=topic_run / "tokenizer.json", data=topic_data["held_out"],
                       label_names=("food", "sports", "tech"))
    bundle = export_model_file(source, tmp_path / "bundle", variants=["onnx-fp32"], log=lambda line: None)
    model = keras.saving.load_model(model_path, compile=False)
    with Classifier.load(bundle, backend="onnxruntime") as classifier:
        assert classifier.labels == LABELS and classifier.bundle.manifest.task.output == "softmax"
        probs = classifier.predict_proba(TEXTS)
        expected = model.predict(classifier.encode(TEXTS), verbose=0)
    assert probs.shape == (len(TEXTS), 3) and np.abs(probs - expected).max() <= FLOAT32_BOUND


def test_a_keras_file_whose_head_does_not_match_the_label_names_is_one_line(topic_run: Path, tmp_path: Path):
    from edgelstm.export.model_file import ModelFile, export_model_file

    source = ModelFile(model=_softmax_model_file(topic_run, tmp_path), tokenizer=topic_run / "tokenizer.json",
                       label_names=("neg", "pos"))
    with pytest.raises(ConfigError, match=r"^topics3.keras ends in Dense\(3, softmax\), which gives 3 labels, but "
                                          r"--label-names names 2 \(neg, pos\): give one name per label$"):
        export_model_file(source, tmp_path / "bundle", variants=["onnx-fp32"], log=lambda line: None)



# --- the web page -----------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.slow
def test_the_web_page_shows_the_top_label_of_three(topic_bundle, npm_packages, browser_tools, tmp_path: Path):
    """Both clients of the page (MediaPipe, onnxruntime-web) give every label's probability, within the
    float32 bound of Keras', and the page shows the most probable label with its score."""
    from edgelstm.core.variants import VARIANTS
    from edgelstm.runtime.bundle import Bundle
    from edgelstm.web.browser import drive
    from edgelstm.web.page import build_page, mediapipe_variants
    from edgelstm.web.texts import golden_texts

    path, _ = topic_bundle
    bundle = Bundle.open(path)
    variant = "mobile-fp32" if "mobile-fp32" in mediapipe_variants(bundle) else None
    page = build_page(path, tmp_path / "page", packages=npm_packages, mediapipe_variant=variant, log=lambda line: None)
    clients = list(json.loads((page / "edgelstm-web.json").read_text())["clients"])
    texts, keras = golden_texts(bundle)
    rows = [i for i, text in enumerate(texts) if text.isascii() and text == text.lower()][:40]  # as MediaPipe reads
    report = drive(page, [texts[i] for i in rows], clients=clients, tools=browser_tools, screenshot=tmp_path / "p.png")
    assert "error" not in report, report["error"]
    bound = VARIANTS["onnx-fp32"].tolerance.max_abs_diff
    for client in clients:
        results = report["results"][client]
        probs = np.array([[row["scores"][name] for name in LABELS] for row in results])
        assert np.abs(probs - keras[rows]).max() <= bound, client
        assert [row["label"] for row in results] == [LABELS[i] for i in np.argmax(keras[rows], axis=1)]
        assert [row["score"] for row in results] == pytest.approx(probs.max(axis=1).tolist())
    first = report["results"][clients[0]][0]
    shown = report["shown"]  # what a person sees after typing the first text and pressing Classify
    assert shown["label"] == first["label"] and f"{first['label']} {first['score']:.4f}" in shown["score"]


@pytest.mark.ray
def test_ray_carries_every_labels_probability_like_one_process(topic_bundle, tmp_path: Path):
    """`--engine ray` (make test-ray) writes one process's JSON lines for a 3-class bundle, probabilities included."""
    import os
    import subprocess
    import sys

    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'edgelstm[ray]' (make test-ray)")
    path, _ = topic_bundle
    source = tmp_path / "in.txt"
    source.write_text("\n".join(text for text, _ in topics.texts(120, seed=4)) + "\n", encoding="utf-8")
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("RAY_ADDRESS", None)

    def predict(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "edgelstm", "predict", str(path), "--input", str(source), "--json",
                               *extra], capture_output=True, text=True, env=env, timeout=600)

    ray, one = predict("--engine", "ray", "--workers", "2"), predict()
    assert ray.returncode == one.returncode == 0, ray.stderr[-3000:]
    assert ray.stdout == one.stdout and all(list(json.loads(line)["probabilities"]) == LABELS
                                            for line in one.stdout.splitlines())
