"""Every installed backend runs the tiny bundle's variants within their tolerances, and picks sensibly.

These use the real interpreters on real (tiny) exported models; backends that are not
installed here are skipped with the pip command that would install them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.errors import ConfigError
from edgelstm.core.variants import VARIANTS
from edgelstm.runtime import BackendUnavailableError, Bundle, Classifier
from edgelstm.runtime.backends import base
from edgelstm.runtime.parity import compare


def require(backend: str) -> None:
    if not base.is_installed(backend):
        pytest.skip(f"{backend} is not installed here ({base.describe_install(backend)})")


def runnable_pairs(bundle: Bundle, backend: str) -> list[str]:
    """Passed variants of the bundle this backend claims it can run on this machine."""
    from edgelstm.runtime import selection

    return [name for name in bundle.variants
            if selection.is_passed(bundle, name)
            and any(o.backend == backend and o.problem is None for o in selection.options(bundle, name))]


@pytest.mark.parametrize("backend", list(base.BACKENDS))
def test_backend_matches_golden_within_tolerance(tiny_bundle: Path, backend: str) -> None:
    require(backend)
    bundle = Bundle.open(tiny_bundle)
    golden = bundle.golden()
    variants = runnable_pairs(bundle, backend)
    if not variants:
        pytest.skip(f"{backend} runs none of the tiny bundle's variants on this machine")
    for variant in variants:
        with Classifier.load(bundle, variant=variant, backend=backend) as classifier:
            assert (classifier.variant, classifier.backend_name) == (variant, backend)
            probs = classifier.predict_ids(golden["ids"])
        assert probs.dtype == np.float32 and probs.shape == golden["keras_probs"].shape
        parity = compare(probs, golden["keras_probs"], variant=variant, labels=golden["labels"])
        assert parity.passed, f"{variant} on {backend}: {parity.failures}"
        assert parity.non_finite == 0


def test_float32_variants_agree_across_backends(tiny_bundle: Path) -> None:
    """The same float32 variant on two interpreters: both near Keras, so near each other."""
    bundle = Bundle.open(tiny_bundle)
    ids = bundle.golden()["ids"]
    for variant in ("tflite-fp32", "onnx-fp32"):
        if variant not in bundle.variants:
            continue
        results = {}
        for backend in runnable_pairs_for_variant(bundle, variant):
            with Classifier.load(bundle, variant=variant, backend=backend) as classifier:
                results[backend] = classifier.predict_ids(ids)
        assert "numpy" in results, "weights.npz should serve every float32 variant"
        for backend, probs in results.items():
            np.testing.assert_allclose(probs, results["numpy"], atol=2 * VARIANTS[variant].tolerance.max_abs_diff,
                                       err_msg=f"{variant}: {backend} vs numpy")


def runnable_pairs_for_variant(bundle: Bundle, variant: str) -> list[str]:
    from edgelstm.runtime import selection

    return [o.backend for o in selection.options(bundle, variant) if o.problem is None]


def test_auto_picks_the_default_variant_when_an_installed_backend_runs_it(tiny_bundle: Path) -> None:
    bundle = Bundle.open(tiny_bundle)
    from edgelstm.runtime import selection

    default = bundle.default_variant
    expected = next(name for name in selection.variant_order(bundle) if runnable_pairs_for_variant(bundle, name))
    with Classifier.load(tiny_bundle) as classifier:
        assert classifier.variant == expected
        assert classifier.backend_name == runnable_pairs_for_variant(bundle, expected)[0]
    if runnable_pairs_for_variant(bundle, default):
        assert expected == default


def test_numpy_alone_falls_back_to_a_float32_variant(tiny_bundle: Path) -> None:
    bundle = Bundle.open(tiny_bundle)
    with Classifier.load(tiny_bundle, backend="numpy") as classifier:
        assert classifier.backend_name == "numpy"
        serves = bundle.manifest.weights.serves
        assert classifier.variant in serves
        order = [v for v in bundle.manifest.variant_preference if v in serves]
        assert classifier.variant == order[0]


def test_numpy_backend_names_the_backends_for_a_quantized_variant(tiny_bundle: Path) -> None:
    bundle = Bundle.open(tiny_bundle)
    quantized = [n for n, e in bundle.variants.items() if e.precision != "fp32" and e.format == "onnx"]
    if not quantized:
        pytest.skip("the tiny bundle has no quantized ONNX variant")
    with pytest.raises(BackendUnavailableError, match=rf"numpy cannot run variant {quantized[0]}.*onnxruntime"):
        Classifier.load(tiny_bundle, variant=quantized[0], backend="numpy")


def test_a_format_mismatch_suggests_variants_the_backend_can_run(tiny_bundle: Path) -> None:
    require("onnxruntime")
    bundle = Bundle.open(tiny_bundle)
    tflite = next(n for n, e in bundle.manifest.to_dict()["variants"].items() if e["format"] == "tflite")
    with pytest.raises(BackendUnavailableError, match=r"with onnxruntime use variant onnx-"):
        Classifier.load(tiny_bundle, variant=tflite, backend="onnxruntime")


def test_unknown_names_list_the_accepted_ones(tiny_bundle: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="accepted are auto, litert"):
        Classifier.load(tiny_bundle, backend="tensorrt")
    with pytest.raises(ConfigError, match="accepted are tflite-fp32"):
        Classifier.load(tiny_bundle, variant="tflite-int4")
    with pytest.raises(ConfigError, match="16x8 quantization is not supported"):
        Classifier.load(tiny_bundle, variant="tflite-int16x8")
    with pytest.raises(ConfigError, match="threads"):
        Classifier.load(tiny_bundle, threads=0)


def test_a_missing_interpreter_names_the_pip_extra(tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend ai-edge-litert is absent, as on a device that only installed onnxruntime.
    real = base.is_installed
    monkeypatch.setattr(base, "is_installed", lambda name: name != "litert" and real(name))
    with pytest.raises(BackendUnavailableError, match=r"pip install 'edgelstm\[litert\]'"):
        Classifier.load(tiny_bundle, backend="litert")


def test_a_failed_variant_is_never_picked_and_warns_when_named(bundle_copy: Path) -> None:
    copy = bundle_copy
    manifest = json.loads((copy / "manifest.json").read_text())
    default = manifest["default_variant"]
    manifest["variants"][default]["status"] = "failed"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with Classifier.load(copy) as classifier:
        assert classifier.variant != default
    backend = runnable_pairs_for_variant(Bundle.open(copy), default)
    if backend:
        with pytest.warns(UserWarning, match=f"variant {default} has status 'failed'"):
            Classifier.load(copy, variant=default).close()


def test_the_tflite_runtime_refusal_is_decided_before_loading() -> None:
    """tflite-runtime 2.14 cannot read a per-channel dynamic-int8 model (FULLY_CONNECTED version 12):
    refused from the manifest's op versions, before loading; version 9 (per-tensor weights) is not."""
    from edgelstm.runtime.backends.tflite_runtime import numpy_too_new

    entry = {"file": "model-tflite-dynint8.tflite", "format": "tflite", "precision": "dynint8", "route": "keras3-while",
             "op_versions": {"FULLY_CONNECTED": 12, "WHILE": 1}}
    # the op-version rule comes first: it holds whether or not tflite-runtime is installed here
    reason = base.reason_unsupported("tflite-runtime", "tflite-dynint8", entry)
    assert "FULLY_CONNECTED version 12" in reason and "mobile-dynint8" in reason
    if not base.is_installed("tflite-runtime"):
        return
    older = base.reason_unsupported("tflite-runtime", "mobile-dynint8",
                                    dict(entry, route="mediapipe-unrolled", op_versions={"FULLY_CONNECTED": 9}))
    if numpy_too_new():  # this environment: every model is refused, for numpy's sake
        assert "numpy<2" in older
    else:
        assert older is None


def test_tflite_runtime_loading_a_too_new_model_says_which_variant_to_use(
        tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the up-front rule removed, the interpreter's own refusal still becomes a clear error."""
    require("tflite-runtime")
    from edgelstm.runtime.backends import tflite_runtime

    if tflite_runtime.numpy_too_new():
        pytest.skip("tflite-runtime needs numpy<2 (it runs in the .venv-tflite environment)")
    entry = Bundle.open(tiny_bundle).manifest.to_dict()["variants"].get("tflite-dynint8", {})
    version = (entry.get("op_versions") or {}).get("FULLY_CONNECTED", 0)
    if version < tflite_runtime.TOO_NEW_OP_VERSIONS["FULLY_CONNECTED"]:
        pytest.skip(f"the tiny bundle's tflite-dynint8 has FULLY_CONNECTED version {version} (its dense weights are "
                    "below the quantization threshold), which tflite-runtime loads: nothing too new to refuse")
    monkeypatch.setattr(tflite_runtime, "TOO_NEW_OP_VERSIONS", {})
    with pytest.raises(BackendUnavailableError, match=r"FULLY_CONNECTED.*use variant tflite-"):
        Classifier.load(tiny_bundle, variant="tflite-dynint8", backend="tflite-runtime")

