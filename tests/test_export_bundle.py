"""What `edgelstm export` writes: every variant of the tiny run, checked from the files themselves.

Each test re-derives what it asserts from the bundle's files (ops from the
flatbuffer, ONNX nodes, probabilities from the interpreters, ids from the
tokenizer) instead of trusting the manifest that export wrote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.errors import BundleError
from edgelstm.core.hashing import sha256_of
from edgelstm.core.rundir import read_run
from edgelstm.core.variants import KERAS3_UNROLLED, KERAS3_WHILE, MEDIAPIPE_UNROLLED, TF_KERAS_FUSED, VARIANTS
from edgelstm.export.evalset import build_eval_set
from edgelstm.export.inspect_model import tflite_info
from edgelstm.runtime.bundle import SCHEMA_VERSION, Bundle
from edgelstm.runtime.parity import compare
from edgelstm.runtime.tokenizer import Tokenizer

pytestmark = pytest.mark.slow

TFLITE = [name for name, spec in VARIANTS.items() if spec.format == "tflite"]
ONNX = [name for name, spec in VARIANTS.items() if spec.format == "onnx"]


@pytest.fixture(scope="module")
def bundle(tiny_bundle: Path) -> Bundle:
    return Bundle.open(tiny_bundle)


@pytest.fixture(scope="module")
def golden(bundle: Bundle) -> dict[str, np.ndarray]:
    return bundle.golden()


def test_every_variant_is_exported_passed_and_preferred(bundle: Bundle) -> None:
    manifest = bundle.manifest.to_dict()
    assert list(manifest["variants"]) == list(VARIANTS)
    assert {entry["status"] for entry in manifest["variants"].values()} == {"passed"}
    assert sorted(manifest["variant_preference"]) == sorted(VARIANTS)
    assert manifest["default_variant"] == manifest["variant_preference"][0]
    assert manifest["rejected"] == {}
    for name, entry in manifest["variants"].items():
        assert entry["route"] == VARIANTS[name].default_route.name
        assert entry["file"] == VARIANTS[name].filename
        assert entry["bytes"] == (bundle.root / entry["file"]).stat().st_size


@pytest.mark.parametrize("name", TFLITE)
def test_tflite_variant_holds_builtin_ops_only_and_fixed_batch(bundle: Bundle, name: str) -> None:
    entry = bundle.variant(name).to_dict()
    info = tflite_info(bundle.path(entry["file"]))
    every_op = {op for ops in info["ops"] for op in ops}
    assert not any(op.startswith("CUSTOM") or "Flex" in op for op in every_op), every_op
    assert info["ops"] == entry["ops"] and info["op_versions"] == entry["op_versions"]
    # The route recorded is the graph actually in the file.
    if entry["route"] == TF_KERAS_FUSED:
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in every_op and "WHILE" not in every_op
        # its state tensors are zeroed by FILL ops in the graph (export/state_reset.py): no state kept
        assert "FILL" in every_op and entry["reset_variables"] is False
    elif entry["route"] in (KERAS3_UNROLLED, MEDIAPIPE_UNROLLED):  # one subgraph of plain ops, no state kept
        assert len(info["ops"]) == 1 and not {"WHILE", "UNIDIRECTIONAL_SEQUENCE_LSTM"} & every_op
        assert entry["reset_variables"] is False
    else:
        assert entry["route"] == KERAS3_WHILE and "WHILE" in every_op and len(info["ops"]) == 3
    inputs = {value["name"]: value for value in entry["inputs"]}
    if entry["route"] == KERAS3_WHILE:  # the fast-path model: dynamic length, the state as inputs
        names = entry["fast_path"]["inputs"]
        ids = inputs[names["ids"]]
        assert ids["shape"] == [1, -1] and inputs[names["h0"]]["shape"] == inputs[names["c0"]]["shape"]
    else:
        (ids,) = inputs.values()
        length = entry["mediapipe"]["input_tokens"] if "mediapipe" in entry else bundle.manifest.task.maxlen
        assert ids["shape"] == [1, length]
    assert entry["batch"] == 1 and ids["dtype"] == "int32" and entry["outputs"][0]["dtype"] == "float32"


def test_full_int8_has_integer_weights(bundle: Bundle) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(bundle.path("model-tflite-int8.tflite")))
    types = {np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    assert "int8" in types


@pytest.mark.parametrize("name", ONNX)
def test_onnx_variant_has_one_lstm_node_no_loop_and_a_dynamic_batch(bundle: Bundle, name: str) -> None:
    import onnx
    import onnxruntime

    path = bundle.path(bundle.variant(name).to_dict()["file"])
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("LSTM") + ops.count("DynamicQuantizeLSTM") == 1, ops
    assert "Loop" not in ops and "Scan" not in ops
    assert ("DynamicQuantizeLSTM" in ops) == (name == "onnx-dynint8")
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, dynamic axis
    assert bundle.variant(name).to_dict()["batch"] is None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids = bundle.golden()["ids"]
    for rows in (1, 7):  # two batch sizes through the same session
        assert session.run(None, _onnx_feed(session, ids[:rows]))[0].shape == (rows, 1)
    # and a dynamic length: the fast path's short inputs
    assert session.run(None, _onnx_feed(session, ids[:3, -5:]))[0].shape == (3, 1)


def _onnx_feed(session: object, ids: np.ndarray) -> dict[str, np.ndarray]:
    """ids plus, for the fast-path model, the zero initial state of the padded way."""
    feed = {"ids": ids}
    for value in session.get_inputs():
        if value.name != "ids":
            feed[value.name] = np.zeros((len(ids), value.shape[-1]), np.float32)
    return feed


def _interpreter_probs(bundle: Bundle, name: str, ids: np.ndarray) -> np.ndarray:
    """The variant on its device interpreter, driven directly (not through edgelstm.runtime)."""
    entry = bundle.variant(name).to_dict()
    path = str(bundle.path(entry["file"]))
    if entry["format"] == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return np.concatenate([session.run(None, _onnx_feed(session, row[None]))[0] for row in ids]).reshape(-1)
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    inputs, target = interpreter.get_input_details(), interpreter.get_output_details()[0]
    ids_name = (entry.get("fast_path") or {}).get("inputs", {}).get("ids")
    source = next(d for d in inputs if d["name"] == ids_name) if ids_name else inputs[0]
    mobile = "mediapipe" in entry  # MediaPipe's layout: the real ids first, padding after
    if not mobile:
        interpreter.resize_tensor_input(source["index"], [1, ids.shape[1]])  # a no-op for a fixed length
        interpreter.allocate_tensors()
    probs = []
    for row in ids:
        if mobile:
            real, row = row[row != 0], np.zeros(source["shape"][-1], np.int32)
            row[:len(real)] = real
        interpreter.reset_all_variables()
        for state in (d for d in inputs if d is not source):  # the padded way: zero initial state
            interpreter.set_tensor(state["index"], np.zeros(state["shape"], np.float32))
        interpreter.set_tensor(source["index"], row[None])
        interpreter.invoke()
        probs.append(float(interpreter.get_tensor(target["index"]).reshape(-1)[-1]))  # P(label 1) is last
    return np.asarray(probs)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_is_within_its_parity_bounds_on_its_interpreter(bundle: Bundle, golden: dict, name: str) -> None:
    probs = _interpreter_probs(bundle, name, golden["ids"])
    parity = compare(probs, golden["keras_probs"], variant=name, labels=golden["labels"])
    assert parity.passed, parity.failures
    assert parity.non_finite == 0
    recorded = bundle.variant(name).to_dict()["parity"]
    assert recorded["n"] == len(golden["ids"]) and recorded["passed"]
    assert recorded["max_abs_diff"] == pytest.approx(parity.max_abs_diff, abs=1e-6)


def test_golden_rows_are_held_out_validation_rows_and_edge_cases(tiny_run: Path, bundle: Bundle, golden: dict) -> None:
    validation = np.load(tiny_run / "validation.npz")
    held = ~golden["edge_case"]
    assert held.sum() == min(500, len(validation["ids"])) and bundle.manifest.to_dict()["golden"]["count"] == len(held)
    rows = {row.tobytes(): label for row, label in zip(validation["ids"], validation["labels"])}
    for row, label in zip(golden["ids"][held], golden["labels"][held]):
        assert rows[row.tobytes()] == label  # every held-out row is a validation row with its label
    assert (golden["labels"][~held] == -1).all()


def test_edge_cases_are_encoded_with_the_runs_tokenizer(tiny_run: Path, bundle: Bundle, golden: dict) -> None:
    tokenizer = Tokenizer.load(tiny_run / "tokenizer.json")
    edge_ids, texts = golden["ids"][golden["edge_case"]], list(golden["edge_texts"])
    names = bundle.manifest.to_dict()["golden"]["edge_case_names"]
    np.testing.assert_array_equal(edge_ids, tokenizer.encode(texts))
    case = dict(zip(names, zip(texts, edge_ids)))
    assert case["empty"][0] == "" and not case["empty"][1].any()
    assert set(case["only-unknown-words"][1][case["only-unknown-words"][1] > 0]) == {1}
    assert len(tokenizer.tokens_to_ids(case["exactly-maxlen-tokens"][0])) == tokenizer.maxlen
    assert (case["exactly-maxlen-tokens"][1] > 1).all()
    assert len(tokenizer.tokens_to_ids(case["far-longer-than-maxlen"][0])) > 2 * tokenizer.maxlen
    assert np.isfinite(golden["keras_probs"]).all()


def test_keras_probs_are_the_keras_models(tiny_run: Path, golden: dict) -> None:
    import keras

    model = keras.saving.load_model(tiny_run / "model.keras", compile=False)
    expected = model.predict(golden["ids"], verbose=0).reshape(-1)
    np.testing.assert_allclose(golden["keras_probs"], expected, atol=1e-6)


def _numpy_forward(weights: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """The LSTM with gate blocks in Keras order i, f, c, o, as weights.npz promises."""
    def sigmoid(x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-x))

    x = weights["embedding"][ids]
    h = c = np.zeros((len(ids), weights["lstm_recurrent_kernel"].shape[0]), np.float32)
    for step in range(ids.shape[1]):
        z = x[:, step] @ weights["lstm_kernel"] + h @ weights["lstm_recurrent_kernel"] + weights["lstm_bias"]
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    return sigmoid(h @ weights["dense_kernel"] + weights["dense_bias"]).reshape(-1)


def test_weights_reproduce_keras_in_numpy(bundle: Bundle, golden: dict) -> None:
    weights = bundle.weights()
    assert {w.dtype for w in weights.values()} == {np.dtype(np.float32)}
    assert bundle.manifest.to_dict()["weights"]["gate_order"] == "ifco"
    np.testing.assert_allclose(_numpy_forward(weights, golden["ids"]), golden["keras_probs"], atol=1e-5)


def test_manifest_describes_the_source_and_lists_every_file(tiny_run: Path, bundle: Bundle) -> None:
    manifest = bundle.manifest.to_dict()
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created"])
    assert {"keras", "tf2onnx", "onnxruntime", "ai-edge-litert"} <= set(manifest["producer"]["libraries"])
    source = manifest["source_run"]
    assert source["model_sha256"] == sha256_of(tiny_run / "model.keras")
    assert source["config"] == json.loads((tiny_run / "config.json").read_text())
    assert source["data_fingerprint"] == json.loads((tiny_run / "metrics.json").read_text())["data"]
    on_disk = {p.name for p in bundle.root.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    assert (bundle.root / "tokenizer.json").read_bytes() == (tiny_run / "tokenizer.json").read_bytes()


def test_model_card_is_generated_from_the_manifest(bundle: Bundle) -> None:
    card = (bundle.root / "README.md").read_text()
    for name, entry in bundle.manifest.to_dict()["variants"].items():
        assert re.search(rf"\| `{name}` \| {entry['file']} \|.*\| {entry['route']} \|.*\| passed \|", card), name
    assert all(label in card for label in bundle.labels)
    assert f"Default variant: `{bundle.default_variant}`" in card
    fast = [name for name, entry in bundle.manifest.to_dict()["variants"].items() if entry.get("fast_path")]
    assert fast and "Skipping the padding" in card and all(f"`{name}`" in card.split("Skipping the padding")[1]
                                                           for name in fast)
    assert card.startswith(f"# {bundle.root.name}: ")  # titled by the bundle, not the run
    assert f"it knows {len(bundle.tokenizer.words):,} words" in card
    assert "`probability`" in card and "`score`" in card


def test_model_card_carries_no_absolute_path() -> None:
    from edgelstm.export.modelcard import without_paths

    assert without_paths("/home/someone/data/reviews.csv") == "reviews.csv"
    assert without_paths(r"C:\Users\someone\reviews.csv") == "reviews.csv"
    assert without_paths("imdb:/root/.keras/datasets/imdb.npz") == "imdb:imdb.npz"
    assert without_paths("synthetic(size=2500, seed=0)") == "synthetic(size=2500, seed=0)"


def test_eval_set_samples_a_seeded_subset_when_validation_is_larger(tiny_run: Path) -> None:
    run = read_run(tiny_run)
    first, again = build_eval_set(run, held_out=50), build_eval_set(run, held_out=50)
    assert (~first.edge_case).sum() == 50
    np.testing.assert_array_equal(first.ids, again.ids)
    assert len({row.tobytes() for row in first.ids[~first.edge_case]}) > 1


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-64])


def _wrong_schema(path: Path) -> None:
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage, file, message", [
    (_flip_byte, "model-tflite-fp32.tflite", r"model-tflite-fp32.tflite does not match its sha256.*tampered"),
    (_truncate, "model-onnx-fp32.onnx", r"model-onnx-fp32.onnx has \d+ bytes, the manifest says \d+.*truncated"),
    (_wrong_schema, "manifest.json", rf"schema_version {SCHEMA_VERSION + 1}.*reads schema_version 1 and {SCHEMA_VERSION}"),
])
def test_a_damaged_bundle_is_refused_with_its_reason(bundle_copy: Path, damage, file: str, message: str) -> None:
    Bundle.open(bundle_copy)  # intact first
    damage(bundle_copy / file)
    with pytest.raises(BundleError, match=message):
        Bundle.open(bundle_copy)

