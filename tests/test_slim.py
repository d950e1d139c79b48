"""`edgelstm slim`: a bundle with only the chosen variants, a new checked manifest, same answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelstm.export.slim import slim_bundle
from edgelstm.runtime import Bundle, BundleError, Classifier, ConfigError
from edgelstm.runtime.verify import verify_bundle

FIXTURE = Path(__file__).parent / "fixtures" / "schema1" / "bundle"
TEXTS = ["a wonderful film, i loved it", "dull and tedious", ""]


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "full"))


def _answers(bundle: Path, variant: str, backend: str, **kwargs) -> np.ndarray:  # noqa: ANN003
    with Classifier.load(bundle, variant=variant, backend=backend, **kwargs) as classifier:
        return classifier.predict_proba(TEXTS)


def test_a_slim_bundle_holds_only_its_variant_and_answers_as_the_full_one(source: Path, tmp_path: Path) -> None:
    out = slim_bundle(source, tmp_path / "slim", variants=["tflite-fp32"], log=lambda line: None)
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["variants"]) == ["tflite-fp32"] and manifest["default_variant"] == "tflite-fp32"
    assert sorted(manifest["files"]) == ["README.md", "golden.npz", "model-tflite-fp32.tflite", "padding_states.npz",
                                         "tokenizer.json", "weights.npz"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*manifest["files"], "manifest.json"])
    assert manifest["weights"]["serves"] == ["tflite-fp32"]
    # the schema-1 source is written as schema 2: no threshold, the bounds it was gated on recorded
    assert manifest["schema_version"] == 2 and "threshold" not in manifest["task"]
    assert manifest["variants"]["tflite-fp32"]["tolerance"]["max_abs_diff"] == 1e-4
    derived = Bundle.open(out).manifest.derived_from
    assert derived is not None and derived.variants == tuple(json.loads((source / "manifest.json").read_text())["variants"])
    assert "onnx-fp32" not in (out / "README.md").read_text()
    for backend in ("litert", "numpy"):
        np.testing.assert_array_equal(_answers(out, "tflite-fp32", backend), _answers(source, "tflite-fp32", backend))
    assert verify_bundle(out, backends=["numpy", "litert"]).passed


def test_a_variant_numpy_does_not_serve_drops_the_weights(source: Path, tmp_path: Path) -> None:
    out = slim_bundle(source, tmp_path / "slim", variants=["onnx-dynint8"], log=lambda line: None)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["weights"] is None and "weights.npz" not in manifest["files"]
    np.testing.assert_array_equal(_answers(out, "onnx-dynint8", "onnxruntime"),
                                  _answers(source, "onnx-dynint8", "onnxruntime"))
    with Classifier.load(out) as classifier:
        assert (classifier.variant, classifier.backend_name) == ("onnx-dynint8", "onnxruntime")


def test_slim_reads_only_what_it_keeps_and_refuses_a_damaged_kept_file(source: Path, tmp_path: Path) -> None:
    (source / "model-onnx-fp32.onnx").write_bytes(b"damaged")
    slim_bundle(source, tmp_path / "ok", variants=["tflite-fp32"], log=lambda line: None)
    with pytest.raises(BundleError, match="model-onnx-fp32.onnx"):
        slim_bundle(source, tmp_path / "bad", variants=["onnx-fp32"], log=lambda line: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "ok"]  # nothing half-written


def test_unknown_or_absent_variants_and_writing_over_the_source_are_refused(source: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown variant"):
        slim_bundle(source, tmp_path / "x", variants=["tflite-fp64"], log=lambda line: None)
    small = slim_bundle(source, tmp_path / "small", variants=["tflite-fp32"], log=lambda line: None)
    with pytest.raises(BundleError, match="has no variant 'onnx-fp32'"):
        slim_bundle(small, tmp_path / "y", variants=["onnx-fp32"], log=lambda line: None)
    with pytest.raises(ConfigError, match="is the source bundle"):
        slim_bundle(source, source, variants=["tflite-fp32"], force=True, log=lambda line: None)


def test_signatures_do_not_carry_over_but_key_signs_the_slim_bundle(source: Path, tmp_path: Path) -> None:
    pytest.importorskip("cryptography", reason="signing needs pip install 'edgelstm[sign]'")
    from edgelstm.runtime import signing
    from edgelstm.runtime.cli_sign import sign_bundle

    private, public = signing.generate_key(tmp_path / "publisher")
    sign_bundle(source, private)
    said: list[str] = []
    unsigned = slim_bundle(source, tmp_path / "unsigned", variants=["tflite-fp32"], log=said.append)
    assert any("is signed but" in line for line in said)
    with pytest.raises(BundleError, match="is not signed"):
        Bundle.open(unsigned, trusted_keys=[public])
    signed = slim_bundle(source, tmp_path / "signed", variants=["tflite-fp32"], key=private, log=lambda line: None)
    np.testing.assert_array_equal(_answers(signed, "tflite-fp32", "numpy", trusted_keys=[public]),
                                  _answers(source, "tflite-fp32", "numpy", trusted_keys=[public]))


def test_the_slim_command(source: Path, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "edgelstm", "slim", str(source), "--variant",
                             "tflite-fp32,onnx-fp32", "--out", str(tmp_path / "two")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "tflite-fp32, onnx-fp32" in result.stdout
    assert list(Bundle.open(tmp_path / "two").variants) == ["tflite-fp32", "onnx-fp32"]
