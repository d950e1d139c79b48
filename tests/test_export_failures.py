"""How export fails: refused requests, a crashing converter, a missed bound, an interrupted export.

All real: the crash is the converter's own segfault (full int8 on the Keras 3
WHILE graph), the kills are real signals to a real export process.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgelstm.core.errors import ExportError
from edgelstm.core.variants import UNSUPPORTED_MODES, VARIANTS, Tolerance
from edgelstm.export.pipeline import export_run
from edgelstm.export.staging import remove_orphans
from edgelstm.runtime.bundle import Bundle

pytestmark = pytest.mark.slow


def export_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgelstm", "export", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_an_unsupported_mode_is_refused_with_the_reason(tiny_run: Path, tmp_path: Path) -> None:
    result = export_cli(str(tiny_run), "--out", str(tmp_path / "b"), "--variants", "tflite-fp32,tflite-int16x8")
    assert result.returncode == 2
    assert "tflite-int16x8" in result.stderr and "16x8 quantization is not supported for LSTM" in result.stderr
    assert not (tmp_path / "b").exists()
    assert "tflite-int16x8" in UNSUPPORTED_MODES


def test_an_unknown_variant_lists_the_accepted_ones(tiny_run: Path, tmp_path: Path) -> None:
    result = export_cli(str(tiny_run), "--out", str(tmp_path / "b"), "--variants", "tflite-int4")
    assert result.returncode == 2
    assert "unknown variant 'tflite-int4'" in result.stderr and "onnx-dynint8" in result.stderr


def test_an_existing_bundle_is_not_overwritten_without_force(tiny_run: Path, bundle_copy: Path) -> None:
    before = (bundle_copy / "manifest.json").read_bytes()
    result = export_cli(str(tiny_run), "--out", str(bundle_copy), "--variants", "onnx-fp32")
    assert result.returncode == 2 and "already exists: pass --force" in result.stderr
    assert (bundle_copy / "manifest.json").read_bytes() == before


def test_a_crashing_converter_fails_its_variant_only_and_force_waits_for_success(
        tiny_run: Path, bundle_copy: Path) -> None:
    crash = ["--variants", "tflite-int8,onnx-fp32", "--route", "tflite-int8=keras3-while", "--force"]
    old_manifest = (bundle_copy / "manifest.json").read_bytes()

    failed = export_cli(str(tiny_run), "--out", str(bundle_copy), *crash, "--strict")
    assert failed.returncode == 1, failed.stderr
    assert re.search(r"tflite-int8 +keras3-while .*FAILED: the process crashed \(SIGSEGV\)", failed.stdout)
    assert re.search(r"onnx-fp32 +tf2onnx .*passed", failed.stdout)
    assert "tflite-int8 (convert failed)" in failed.stderr and "--strict" in failed.stderr
    assert (bundle_copy / "manifest.json").read_bytes() == old_manifest  # the old bundle is untouched

    kept = export_cli(str(tiny_run), "--out", str(bundle_copy), *crash)  # the default: write what passed
    assert kept.returncode == 3, kept.stderr
    assert "1 variant(s) did not pass (tflite-int8)" in kept.stderr and "exit status 3" in kept.stderr
    assert "rejected: tflite-int8 (convert failed: the process crashed (SIGSEGV)" in kept.stdout
    bundle = Bundle.open(bundle_copy)  # replaced by the new, complete bundle
    assert list(bundle.variants) == ["onnx-fp32"] and bundle.default_variant == "onnx-fp32"
    rejected = bundle.manifest.to_dict()["rejected"]["tflite-int8"]
    assert rejected["stage"] == "convert" and "SIGSEGV" in rejected["error"]
    assert not list(bundle_copy.glob("model-tflite-*"))
    assert "tflite-int8" in (bundle_copy / "README.md").read_text()


def test_a_variant_over_its_bound_is_rejected_fails_a_strict_export_or_is_kept(
        tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A bound no converted model meets (|dp| of 1e-12: float32 rounding alone moves it by ~1e-7),
    # yet one the manifest can record; the quantized variant keeps its own bound.
    impossible = Tolerance(max_abs_diff=1e-12, min_label_agreement=1.0, max_accuracy_drop=0.0)
    monkeypatch.setitem(VARIANTS, "onnx-fp32", dataclasses.replace(VARIANTS["onnx-fp32"], tolerance=impossible))
    target, variants = tmp_path / "bundle", ["onnx-fp32", "onnx-dynint8"]
    with pytest.raises(ExportError, match=r"1 of 2 variant\(s\) failed: onnx-fp32 \(over its parity bound\)"):
        export_run(tiny_run, target, variants=variants, strict=True, log=lambda line: None)
    assert not target.exists() and list(tmp_path.iterdir()) == []

    lines: list[str] = []
    export_run(tiny_run, target, variants=variants, log=lines.append)
    bundle = Bundle.open(target)
    assert list(bundle.variants) == ["onnx-dynint8"] and not (target / "model-onnx-fp32.onnx").exists()
    rejected = bundle.manifest.rejected["onnx-fp32"]
    assert rejected.stage == "parity" and "max |dp|" in rejected.error and rejected.route == "tf2onnx"
    assert rejected.parity is not None and rejected.parity["max_abs_diff"] > 1e-12
    assert "rejected: onnx-fp32 (over its parity bound: max |dp|" in lines[-1]
    assert "onnx-fp32" in (target / "README.md").read_text().split("Not in this bundle")[1]
    shutil.rmtree(target)

    export_run(tiny_run, target, variants=variants, keep_failed=True, log=lambda line: None)
    bundle = Bundle.open(target)
    assert bundle.variant("onnx-fp32").to_dict()["status"] == "failed"
    assert "max |dp|" in bundle.variant("onnx-fp32").parity["failures"][0]
    assert bundle.variant("onnx-fp32").tolerance == impossible  # the bound it was gated on, recorded
    assert bundle.default_variant == "onnx-dynint8" and bundle.manifest.to_dict()["variant_preference"] == ["onnx-dynint8"]
    assert "onnx-fp32" not in bundle.manifest.to_dict()["variant_preference"]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _wait_for(predicate, timeout: float, what: str):  # noqa: ANN001, ANN202 - tiny polling helper
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_an_export_killed_while_converting_leaves_nothing_at_the_target(
        tiny_run: Path, tmp_path: Path, signum: signal.Signals) -> None:
    target = tmp_path / "bundle"
    process = subprocess.Popen([sys.executable, "-m", "edgelstm", "export", str(tiny_run), "--out", str(target),
                                "--variants", "tflite-fp32,tflite-int8"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               # A shell running the suite in the background ignores SIGINT for its children.
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        job = _wait_for(lambda: next(tmp_path.glob(".bundle.edgelstm-*.partial/_work/convert-*.json"), None),
                        180, "the first conversion to start")
        staging_folder = job.parent.parent
        _wait_for(lambda: _processes_mentioning(str(job)), 30, "the converter process")
        os.kill(process.pid, signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0, stderr
    assert not target.exists(), stderr
    # Converters die with the export (SIGKILL included, through PR_SET_PDEATHSIG).
    _wait_for(lambda: not _processes_mentioning(str(staging_folder)), 30, "the converter to exit")
    if signum == signal.SIGKILL:
        assert staging_folder.exists()  # nothing could clean up; the next export removes it
        assert remove_orphans(tmp_path) == [staging_folder]
    else:
        assert "interrupted" in stderr, stderr
    assert list(tmp_path.iterdir()) == [], stderr
