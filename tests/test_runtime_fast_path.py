"""The fast path (runtime/padding.py): skipping the padding gives the padded model's outputs.

Real interpreters on the tiny bundle; no timing is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.variants import FAST_PATH_MAX_DIFF_FP32, VARIANTS
from edgelstm.runtime.backends.base import is_installed, reason_unsupported
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.classifier import Classifier
from edgelstm.runtime.padding import (
    PADDING_STATES,
    PaddingStates,
    plan_groups,
    steps_from_lengths,
    steps_needed,
    steps_of_length,
)
from edgelstm.runtime.parity import compare
from edgelstm.runtime.verify import FAST, PADDED, verify_bundle

# Models with an initial-state input: the WHILE-route TFLite variants and both ONNX variants.
FAST_VARIANTS = ("tflite-fp32", "tflite-fp16", "tflite-dynint8", "onnx-fp32", "onnx-dynint8")
# Where ai-edge-litert is absent (.venv-tflite) the TFLite variants run on tflite-runtime.
TFLITE_BACKEND = "litert" if is_installed("litert") else "tflite-runtime"


def backend_for(variant: str) -> str:
    """The variant's format interpreter, or a skip when it is not installed here."""
    name = TFLITE_BACKEND if VARIANTS[variant].format == "tflite" else "onnxruntime"
    if not is_installed(name):
        pytest.skip(f"{name} is not installed here")
    return name


def test_steps_needed_counts_real_tokens_and_at_least_one() -> None:
    ids = np.array([[0, 0, 0, 5], [0, 7, 0, 5], [0, 0, 0, 0], [4, 5, 6, 7]])
    assert steps_needed(ids).tolist() == [1, 3, 1, 4]


def test_steps_of_length_is_steps_from_lengths_of_one_row() -> None:
    for length in (0, 1, 7, 200):
        assert steps_of_length(length).tolist() == steps_from_lengths(np.array([length], np.int32)).tolist()
        assert steps_of_length(length).dtype == steps_from_lengths(np.array([length], np.int32)).dtype


def test_start_states_are_the_table_rows_for_one_row_and_for_many() -> None:
    rng = np.random.default_rng(3)
    tables = {"h0": rng.normal(size=(6, 3)).astype(np.float32), "c0": rng.normal(size=(6, 3)).astype(np.float32)}
    states = PaddingStates(tables)
    for steps in range(1, states.maxlen + 1):
        one, three = states.start(steps, 1), states.start(steps, 3)
        assert list(one) == list(three) == ["h0", "c0"]
        for role, table in tables.items():
            row = table[states.maxlen - steps]
            np.testing.assert_array_equal(one[role], row[None, :])  # prebuilt, the same every call
            np.testing.assert_array_equal(three[role], np.repeat(row[None, :], 3, axis=0))
        assert states.start(steps, 1) is one


def test_plan_groups_covers_every_row_once_sorted_by_length() -> None:
    steps = np.array([200, 5, 7, 180, 6, 199, 20])
    plan = plan_groups(steps, 3, call_us=50.0, step_us=3.4, row_step_us=1.4)
    joined = np.concatenate(plan)
    assert sorted(joined.tolist()) == list(range(len(steps)))
    assert all(len(group) <= 3 for group in plan)
    assert (np.diff(steps[joined]) >= 0).all()
    # The short rows never share a group with a 200-step row.
    assert not any({1, 200} <= set(steps[g].tolist()) for g in plan)


def test_bundle_lists_padding_states_and_fast_path_entries(tiny_bundle: Path) -> None:
    bundle = Bundle.open(tiny_bundle)
    assert PADDING_STATES in bundle.manifest.to_dict()["files"]
    states = bundle.padding_states()
    assert states.maxlen == bundle.tokenizer.maxlen and states.h.shape == states.c.shape
    np.testing.assert_array_equal(states.h[0], 0.0)  # row 0: the zero state, before any padding
    for name in FAST_VARIANTS:
        fast = bundle.variant(name).to_dict()["fast_path"]
        assert fast["padding_states"] == PADDING_STATES
        assert set(fast["inputs"]) == {"ids", "h0", "c0"} and fast["parity"]["passed"]
    # The single-input models have a fixed length: padded only. Those of this bundle, so the test
    # holds where export made no mobile variants (mediapipe not installed: manifest.skipped says so).
    held = list(bundle.manifest.to_dict()["variants"])
    padded_only = [name for name in held if name not in FAST_VARIANTS]
    assert "tflite-int8" in padded_only, held
    for name in padded_only:
        assert bundle.variant(name).fast_path is None, name


@pytest.mark.parametrize("variant", FAST_VARIANTS)
def test_fast_path_matches_padded_way(tiny_bundle: Path, variant: str) -> None:
    bundle = Bundle.open(tiny_bundle)
    golden = bundle.golden()
    backend = backend_for(variant)
    # A refusal the runtime states for this file (tflite-runtime 2.14 and the FULLY_CONNECTED v12 of a
    # bundle whose dense weights are int8 per channel, as the emulated Pi's is) is not this test's concern.
    if reason := reason_unsupported(backend, variant, bundle.variant(variant).to_dict()):
        pytest.skip(f"{backend} refuses {variant} of this bundle: {reason}")
    with Classifier.load(tiny_bundle, variant=variant, backend=backend, fast_path=False) as padded:
        assert not padded.fast_path
        slow = padded.predict_ids(golden["ids"])
    with Classifier.load(tiny_bundle, variant=variant, backend=backend) as classifier:
        assert classifier.fast_path
        fast = classifier.predict_ids(golden["ids"])
    if VARIANTS[variant].is_float32:
        assert np.abs(fast - slow).max() <= FAST_PATH_MAX_DIFF_FP32
    assert compare(fast, golden["keras_probs"], variant=variant, labels=golden["labels"]).passed


def test_grouped_batch_equals_rows_one_at_a_time(tiny_bundle: Path) -> None:
    """Mixed lengths in one batch: grouping by length gives each row's own result."""
    backend_for("onnx-fp32")
    ids = Bundle.open(tiny_bundle).golden()["ids"][:40]
    with Classifier.load(tiny_bundle, variant="onnx-fp32", backend="onnxruntime") as classifier:
        batch = classifier.predict_ids(ids)
        single = np.array([classifier.predict_ids(ids[i:i + 1])[0] for i in range(len(ids))])
    assert len(set(steps_needed(ids).tolist())) > 3  # really mixed
    assert np.abs(batch - single).max() <= FAST_PATH_MAX_DIFF_FP32


def test_numpy_uses_bundle_table_and_agrees(tiny_bundle: Path) -> None:
    golden = Bundle.open(tiny_bundle).golden()
    with Classifier.load(tiny_bundle, variant="tflite-fp32", backend="numpy") as with_table:
        assert with_table.fast_path
        a = with_table.predict_ids(golden["ids"])
    with Classifier.load(tiny_bundle, variant="tflite-fp32", backend="numpy", fast_path=False) as own_table:
        b = own_table.predict_ids(golden["ids"])
    assert np.abs(a - b).max() <= FAST_PATH_MAX_DIFF_FP32


def test_verify_checks_both_ways(tiny_bundle: Path) -> None:
    backend = backend_for("tflite-fp32")
    report = verify_bundle(tiny_bundle, variants=["tflite-fp32", "tflite-int8"], backends=[backend])
    ways = {(check.variant, check.path) for check in report.checks if check.status != "skipped"}
    assert {("tflite-fp32", PADDED), ("tflite-fp32", FAST)} <= ways
    assert ("tflite-int8", FAST) not in ways  # the fused full-int8 model has no fast path
    assert report.passed


def _single_input_onnx(source: Path, target: Path) -> None:
    """The pre-fast-path model: h0 and c0 become zero constants, ids the only input (batch 1)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    for value in [v for v in graph.input if v.name in ("h0", "c0")]:
        units = value.type.tensor_type.shape.dim[1].dim_value
        graph.initializer.append(numpy_helper.from_array(np.zeros((1, units), np.float32), value.name))
        graph.input.remove(value)
    onnx.save(model, str(target))


def test_bundle_without_fast_path_runs_padded(bundle_copy: Path) -> None:
    """A bundle made before the fast path: no padding_states.npz, single-input models."""
    from edgelstm.core.hashing import sha256_of

    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    expected = Classifier.load(bundle_copy, variant="onnx-dynint8", fast_path=False)
    ids = Bundle.open(bundle_copy).golden()["ids"]
    want = expected.predict_ids(ids)
    expected.close()
    model = bundle_copy / manifest["variants"]["onnx-dynint8"]["file"]
    _single_input_onnx(model, model)
    (bundle_copy / PADDING_STATES).unlink()
    del manifest["files"][PADDING_STATES]
    for entry in manifest["variants"].values():
        entry.pop("fast_path", None)
    manifest["files"][model.name] = {"sha256": sha256_of(model), "bytes": model.stat().st_size}
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with Classifier.load(bundle_copy, variant="onnx-dynint8") as classifier:
        assert not classifier.fast_path
        got = classifier.predict_ids(ids)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert Bundle.open(bundle_copy).padding_states() is None


def test_damaged_padding_states_is_a_clear_error(tmp_path: Path) -> None:
    from edgelstm.core.errors import BundleError

    path = tmp_path / "states.npz"
    np.savez(path, c=np.zeros((5, 4), np.float32))  # h alone is a GRU's table; c alone is nothing
    with pytest.raises(BundleError, match="lacks the array 'h'"):
        PaddingStates.load(path)
    np.savez(path, h=np.zeros((5, 4), np.float32), c=np.zeros((4, 4), np.float32))
    with pytest.raises(BundleError, match=r"c \[4, 4\] must be finite \[maxlen \+ 1, H\] with 5 rows like h"):
        PaddingStates.load(path)
    np.savez(path, h=np.zeros((5, 4), np.float32), weights=np.zeros((5, 4), np.float32))
    with pytest.raises(BundleError, match="holds 'weights'"):
        PaddingStates.load(path)
