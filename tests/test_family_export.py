"""Each member of the recurrent family through train, export (every variant, real converters),
verify and predict: a GRU, two stacked LSTMs, a bidirectional LSTM.

Slow by nature (one training and six conversions per member), so the models are tiny and
each member is built once per module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgelstm.core import family
from edgelstm.core.variants import VARIANTS

pytest.importorskip("tensorflow", reason="training and export need TensorFlow")

# conftest.TINY (about 90 % validation accuracy on the synthetic corpus): a model this confident
# keeps its labels under full int8; measured, 6 epochs on 1,500 texts left the stacked and the
# bidirectional LSTM at chance, and their full-int8 labels then flipped by the quarter.
FAMILY_TINY = dict(data="synthetic", vocab_size=400, maxlen=64, embedding_dim=8, lstm_units=8, epochs=10,
                   batch_size=32, learning_rate=1e-2, early_stopping_patience=0, synthetic_size=2500,
                   calibration_size=64, seed=0, dropout=0.0, l2=0.0,
                   # as conftest.TINY: its own recipe, not the IMDB defaults
                   learning_rate_schedule="constant", clipnorm=None, embedding_dropout=0.0, restore_best=True)
MEMBERS = {"gru": dict(cell="gru"), "stacked-lstm": dict(layers=2), "bidirectional-lstm": dict(bidirectional=True),
           "masked-lstm": dict(mask_zero=True)}
# The variants every member goes through; the mobile ones (MediaPipe's unrolled graph) have tests of their own.
CORE_VARIANTS = [name for name, spec in VARIANTS.items() if not spec.is_mobile]
# A fresh interpreter per row is slow: these rows are checked against fresh ones, every row against Keras.
FRESH_ROWS = 20
TEXTS = ["a wonderful, moving film with a great cast", "dull and far too long; i wanted my money back", ""]


@pytest.fixture(scope="module", params=list(MEMBERS))
def member_bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    from edgelstm.export.pipeline import export_run
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.fit import train

    folder = tmp_path_factory.mktemp(request.param)
    run = train(TrainConfig(**FAMILY_TINY, **MEMBERS[request.param]), folder / "run", verbose=0)
    return request.param, export_run(run, folder / "bundle", variants=list(CORE_VARIANTS), log=lambda line: None)


def _manifest(bundle: Path) -> dict:
    import json

    return json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))


# onnx-dynint8 quantizes each text's activations at run time, so how many of a tiny model's texts
# sit inside its int8 noise depends on the CPU's int8 kernels. Measured: the stacked LSTM's file
# agreed with Keras on 98.42 % of labels (bound 99 %, max |dp| 0.31) on an AVX2 CPU without VNNI,
# whose u8 x s8 products saturate, and passed on the CPU of the previous CI run. There the gate's
# rejection is the right outcome, not a wrong file: the variant was built, measured and refused
# with its figures. A wrong graph would disagree far more often than this floor allows.
KERNEL_DEPENDENT = ("onnx-dynint8",)
WRONG_GRAPH_AGREEMENT = 0.95


def _kernel_dependent_gate_misses(manifest: dict) -> set[str]:
    misses = set()
    for name in KERNEL_DEPENDENT:
        rejected = manifest["rejected"].get(name)
        if rejected and rejected["stage"] == "parity":
            assert rejected["parity"]["label_agreement"] >= WRONG_GRAPH_AGREEMENT, (name, rejected)
            misses.add(name)
    return misses


def test_every_variant_passes_or_is_refused_with_its_reason(member_bundle: tuple[str, Path]) -> None:
    member, bundle = member_bundle
    manifest = _manifest(bundle)
    architecture = manifest["source_run"]["architecture"]
    config = manifest["source_run"]["config"]
    assert (config["cell"], config["layers"], config["bidirectional"]) == (
        MEMBERS[member].get("cell", "lstm"), MEMBERS[member].get("layers", 1), MEMBERS[member].get("bidirectional", False))
    assert len(architecture["recurrent"]) == config["layers"]
    expected_refused = {"tflite-int8"} if member in ("gru", "masked-lstm") else set()
    gate_misses = _kernel_dependent_gate_misses(manifest)
    assert set(manifest["rejected"]) - gate_misses == expected_refused, manifest["rejected"]
    if member == "gru":
        assert "no fused GRU op" in manifest["rejected"]["tflite-int8"]["error"]
    if member == "masked-lstm":
        assert architecture["mask_zero"] is True and "cannot quantize" in manifest["rejected"]["tflite-int8"]["error"]
    else:
        assert "mask_zero" not in architecture
    assert set(manifest["variants"]) == set(CORE_VARIANTS) - expected_refused - gate_misses
    for name, entry in manifest["variants"].items():
        assert entry["status"] == "passed", (name, entry["parity"])
        ops = [op for graph in entry["ops"] for op in graph] if entry["format"] == "tflite" else entry["ops"]
        assert not [op for op in ops if "CUSTOM" in op or "Flex" in op], (name, ops)  # builtin ops only
        if entry["format"] == "onnx":
            cell_op = "GRU" if member == "gru" else "LSTM"
            assert any(op.endswith(cell_op) for op in ops) and "ai.onnx:Loop" not in ops, (name, ops)


def test_fast_path_where_the_stack_reads_forwards_and_why_not_elsewhere(member_bundle: tuple[str, Path]) -> None:
    member, bundle = member_bundle
    manifest = _manifest(bundle)
    architecture = manifest["source_run"]["architecture"]
    fast = {name: entry["fast_path"] for name, entry in manifest["variants"].items() if entry.get("fast_path")}
    if member == "bidirectional-lstm":
        assert architecture["fast_path"] is False and architecture["padded_only"] == family.PADDED_ONLY_BIDIRECTIONAL
        assert fast == {} and not (bundle / "padding_states.npz").exists()
        return
    assert architecture["fast_path"] is True and "padded_only" not in architecture
    stack = tuple(family.RecurrentLayer.from_dict(layer) for layer in architecture["recurrent"])
    assert {"tflite-fp32", "onnx-fp32", "onnx-dynint8"} - _kernel_dependent_gate_misses(manifest) <= set(fast)
    for entry in fast.values():
        assert set(entry["inputs"]) == {"ids", *family.state_roles(stack)}
        # Both ways measured against Keras at export; the float ones agree with the padded way to 1e-6.
        assert entry["parity"]["passed"]


def test_verify_and_predict_on_every_backend(member_bundle: tuple[str, Path]) -> None:
    from edgelstm.runtime import Classifier
    from edgelstm.runtime.verify import verify_bundle

    member, bundle = member_bundle
    report = verify_bundle(bundle)
    assert report.passed, [check.to_dict() for check in report.checks if check.status != "ok"]
    backends = {check.backend for check in report.ran}
    assert {"numpy", "onnxruntime", "litert"} <= backends
    scores = {}
    for variant, backend in (("onnx-fp32", "onnxruntime"), ("onnx-fp32", "numpy"), ("tflite-fp32", "litert")):
        with Classifier.load(bundle, variant=variant, backend=backend) as model:
            scores[(variant, backend)] = np.asarray(model.predict_proba(TEXTS), np.float32)
    reference = scores[("onnx-fp32", "onnxruntime")]
    for key, values in scores.items():
        np.testing.assert_allclose(values, reference, atol=1e-5, rtol=0, err_msg=str(key))


def test_the_preference_fits_the_stack_and_auto_loads_its_head(member_bundle: tuple[str, Path]) -> None:
    """A GRU bundle prefers tflite-dynint8 (onnx-dynint8's GRU node stays float); the LSTM members
    keep the variant table's order, and `auto` loads the first passed variant it can run."""
    from edgelstm.core.variants import PREFERENCE
    from edgelstm.runtime import Classifier

    member, bundle = member_bundle
    manifest = _manifest(bundle)
    expected = [name for name in PREFERENCE if name in manifest["variants"]]
    if member == "gru":
        assert "tflite-dynint8" in expected, manifest["rejected"]
        expected = ["tflite-dynint8", *(name for name in expected if name != "tflite-dynint8")]
    assert manifest["variant_preference"] == expected
    assert manifest["default_variant"] == expected[0]
    with Classifier.load(bundle) as model:
        assert model.variant == expected[0]


def test_every_tflite_is_right_used_plainly(member_bundle: tuple[str, Path]) -> None:
    """As an app uses a file (tests/helpers/plain.py): the ids and zeros for every state input the
    file declares (a GRU's h0 alone, a stack's h0_layer1, ...), row after row on one interpreter."""
    from helpers.plain import sequential_and_fresh, tflite_variants

    from edgelstm.runtime.bundle import Bundle
    from edgelstm.runtime.parity import compare

    pytest.importorskip("ai_edge_litert.interpreter", reason="needs ai-edge-litert")
    member, path = member_bundle
    bundle = Bundle.open(path)
    golden = bundle.golden()
    names = tflite_variants(bundle)
    assert names, member
    for name in names:
        entry = bundle.variant(name).to_dict()
        sequential, separate = sequential_and_fresh(bundle.read_checked(entry["file"]), golden["ids"], FRESH_ROWS)
        np.testing.assert_array_equal(sequential[:FRESH_ROWS], separate,
                                      err_msg=f"{member} {name} keeps state between texts")
        parity = compare(sequential, golden["keras_probs"], variant=name, labels=golden["labels"])
        assert parity.passed, f"{member} {name} used plainly: {parity.failures}"
        assert entry["plain_use"]["stateless"] is True and entry["plain_use"]["inputs"] == len(entry["inputs"])
