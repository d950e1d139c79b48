"""A bundle that is not what export wrote is refused by Classifier.load, naming the file.

Each test damages `bundle_copy` (tests/conftest.py), a private copy of the tiny bundle.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgelstm.runtime import Bundle, BundleError, Classifier, selection
from edgelstm.runtime.bundle import WEIGHTS


def manifest_of(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def write_manifest(bundle: Path, manifest: dict) -> None:
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def default_model(bundle: Path) -> str:
    """The model file `Classifier.load(bundle)` reads here (load reads only its variant's files)."""
    with Classifier.load(bundle) as classifier:
        return classifier.bundle.files_of(classifier.variant, numpy=classifier.backend_name == "numpy")[0]


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_tampered_model_is_refused_naming_it(bundle_copy: Path) -> None:
    name = default_model(bundle_copy)
    flip_one_byte(bundle_copy / name)
    with pytest.raises(BundleError, match=rf"{name} does not match its sha256"):
        Classifier.load(bundle_copy)


def test_a_truncated_model_is_refused_naming_it(bundle_copy: Path) -> None:
    name = default_model(bundle_copy)
    path = bundle_copy / name
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(BundleError, match=rf"{name} has 100 bytes.*truncated"):
        Classifier.load(bundle_copy)


@pytest.mark.parametrize("name", ["tokenizer.json", "weights.npz", "golden.npz"])
def test_every_listed_file_is_checked_not_only_models(bundle_copy: Path, name: str) -> None:
    flip_one_byte(bundle_copy / name)
    with pytest.raises(BundleError, match=name):
        Bundle.open(bundle_copy)  # what verify, bench and sign open: every listed file checked


def test_a_missing_file_is_refused_naming_it(bundle_copy: Path) -> None:
    name = default_model(bundle_copy)
    (bundle_copy / name).unlink()
    with pytest.raises(BundleError, match=rf"incomplete: {name} is missing"):
        Classifier.load(bundle_copy)


@pytest.mark.parametrize("version", [3, 0, "1", None])
def test_an_unknown_schema_version_is_refused(bundle_copy: Path, version) -> None:
    manifest = manifest_of(bundle_copy)
    manifest["schema_version"] = version
    write_manifest(bundle_copy, manifest)
    with pytest.raises(BundleError, match=rf"schema_version {version!r}; this edgelstm reads schema_version 1 and 2"):
        Classifier.load(bundle_copy)


def test_a_corrupted_manifest_and_a_missing_bundle_are_refused(bundle_copy: Path, tmp_path: Path) -> None:
    (bundle_copy / "manifest.json").write_text('{"schema_version": 1, ')
    with pytest.raises(BundleError, match="manifest.json is not JSON"):
        Classifier.load(bundle_copy)
    with pytest.raises(BundleError, match="no bundle at"):
        Classifier.load(tmp_path / "nowhere")


def test_a_model_changed_after_the_bundle_was_opened_is_refused_at_load(bundle_copy: Path) -> None:
    """The interpreter parses the bytes that were checked, not whatever the file holds later."""
    opened = Bundle.open(bundle_copy)
    # The file Classifier.load will parse here: the default variant's model, or weights.npz
    # where only the NumPy backend is installed (a device venv without interpreters).
    chosen = selection.plan(opened, variant=None, backend=None)[0]
    parsed = WEIGHTS if chosen.backend == "numpy" else opened.variant(chosen.variant).to_dict()["file"]
    flip_one_byte(bundle_copy / parsed)
    with pytest.raises(BundleError, match="changed since it was checked"):
        Classifier.load(opened)


def test_a_variant_pointing_at_an_unlisted_file_is_refused(bundle_copy: Path) -> None:
    manifest = manifest_of(bundle_copy)
    manifest["variants"][manifest["default_variant"]]["file"] = "../elsewhere.onnx"
    write_manifest(bundle_copy, manifest)
    with pytest.raises(BundleError, match="not listed with a checksum"):
        Classifier.load(bundle_copy)
