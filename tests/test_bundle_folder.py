"""A bundle is one folder of regular files, each listed, each parsed from the bytes that were checked."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from edgelstm.runtime import Bundle, BundleError, Classifier
from edgelstm.runtime.verify import verify_bundle

LISTED = ["manifest.json", "tokenizer.json", "golden.npz", "weights.npz", "padding_states.npz", "model-tflite-fp32.tflite"]


def _load_and_verify(bundle: Path) -> None:
    """What `predict` and `verify` do first."""
    with Classifier.load(bundle, variant="tflite-fp32", backend="numpy"):
        pass
    verify_bundle(bundle, backends=["numpy"])


@pytest.mark.parametrize("name", LISTED)
def test_a_listed_file_replaced_by_a_symlink_to_an_identical_copy_is_refused(bundle_copy: Path, tmp_path: Path,
                                                                             name: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(bundle_copy / name, outside / name)
    (bundle_copy / name).unlink()
    (bundle_copy / name).symlink_to(outside / name)
    with pytest.raises(BundleError, match=rf"{name} of .* is a symlink"):
        _load_and_verify(bundle_copy)


def test_a_manifest_symlinked_to_a_fifo_is_refused_without_opening_it(bundle_copy: Path, tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes: a refusal that returns at all was made before opening."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (bundle_copy / "manifest.json").unlink()
    (bundle_copy / "manifest.json").symlink_to(fifo)
    with pytest.raises(BundleError, match="is a symlink"):
        Bundle.open(bundle_copy)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_listed_file_that_is_not_a_regular_file_is_refused(bundle_copy: Path, kind: str) -> None:
    path = bundle_copy / "tokenizer.json"
    path.unlink()
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    with pytest.raises(BundleError, match="is not a regular file"):
        Bundle.open(bundle_copy, check_files=False)


def test_the_tokenizer_must_be_listed(bundle_copy: Path) -> None:
    """The issue's attack: drop its entry, reverse the words: predict would invert, verify pass."""
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    del manifest["files"]["tokenizer.json"]
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    tokenizer = json.loads((bundle_copy / "tokenizer.json").read_text())
    tokenizer["words"].reverse()
    (bundle_copy / "tokenizer.json").write_text(json.dumps(tokenizer))
    for attempt in (lambda: Classifier.load(bundle_copy, backend="numpy"), lambda: verify_bundle(bundle_copy)):
        with pytest.raises(BundleError, match="'tokenizer.json' \\(the tokenizer\\) is not listed"):
            attempt()


def test_verify_checks_the_tokenizer(bundle_copy: Path) -> None:
    path = bundle_copy / "tokenizer.json"
    path.write_bytes(path.read_bytes().replace(b'"words":["', b'"words":["x', 1)[:path.stat().st_size])
    with pytest.raises(BundleError, match="tokenizer.json does not match its sha256"):
        verify_bundle(bundle_copy, backends=["numpy"])


def test_a_forged_tokenizer_swapped_in_and_out_is_never_used(bundle_copy: Path) -> None:
    """Each file is read once and parsed from the bytes whose sha256 was checked (the issue's race:
    a forged tokenizer.json swapped in and out was used in 41 of 200 loads)."""
    real = (bundle_copy / "tokenizer.json").read_bytes()
    forged_tokenizer = json.loads(real)
    forged_tokenizer["words"].reverse()
    forged = json.dumps(forged_tokenizer).encode()
    with Classifier.load(bundle_copy, backend="numpy") as classifier:
        expected = classifier.tokenizer.words
    stop = threading.Event()

    def swap() -> None:
        path, spare = bundle_copy / "tokenizer.json", bundle_copy / ".tokenizer.swap"
        while not stop.is_set():
            for data in (forged, real):
                spare.write_bytes(data)
                os.replace(spare, path)

    swapper = threading.Thread(target=swap)
    swapper.start()
    used, refused = 0, 0
    try:
        for _ in range(200):
            try:
                bundle = Bundle.open(bundle_copy, check_files=False)
            except BundleError:
                refused += 1
                continue
            assert bundle.tokenizer.words == expected
            used += 1
    finally:
        stop.set()
        swapper.join()
    assert used + refused == 200 and refused > 0, (used, refused)


def test_a_variant_loads_when_another_variants_file_is_damaged_or_deleted(bundle_copy: Path) -> None:
    """Load checks only the files its variant needs: the manifest, the tokenizer, its model, its tables."""
    with Classifier.load(bundle_copy, variant="tflite-fp32", backend="numpy") as classifier:
        expected = classifier.predict_proba(["a fine film", "dull"])
    (bundle_copy / "model-onnx-fp32.onnx").write_bytes(b"corrupt")
    (bundle_copy / "model-tflite-int8.tflite").unlink()
    (bundle_copy / "golden.npz").write_bytes(b"corrupt")
    with Classifier.load(bundle_copy, variant="tflite-fp32", backend="numpy") as classifier:
        np.testing.assert_array_equal(classifier.predict_proba(["a fine film", "dull"]), expected)
    with pytest.raises(BundleError, match="model-onnx-fp32.onnx"):
        Classifier.load(bundle_copy, variant="onnx-fp32", backend="onnxruntime")
    with pytest.raises(BundleError):
        verify_bundle(bundle_copy, backends=["numpy"])
