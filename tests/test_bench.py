"""Smoke runs of `edgelstm bench` on the tiny bundle: the results' shape and sanity, never timings.

Two runs per phase keep the whole module within about a minute; real interpreters,
real worker processes, no mocks.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgelstm.benchmarks.progress import Progress
from edgelstm.benchmarks.runner import KERAS_VARIANT, installed, plan_keras_rows, run_worker, source_run_model
from edgelstm.benchmarks.settings import KERAS_MODES, BenchSettings
from edgelstm.main import main
from edgelstm.runtime import selection
from edgelstm.runtime.bundle import Bundle

SMOKE = ["--runs", "2", "--warmup", "1", "--no-progress"]
BATCH = 4
DATA_ROWS = 24
HAS_KERAS = installed("tensorflow") and installed("keras")


@pytest.fixture(scope="module")
def labelled_csv(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path) -> Path:
    """A small labelled file in the training stage's CSV format, labels given by name."""
    names = Bundle.open(tiny_bundle).labels
    path = tmp_path_factory.mktemp("data") / "labelled.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(DATA_ROWS):
            writer.writerow([f"a {'wonderful moving' if i % 2 else 'dull tedious'} film, take {i}", names[i % 2]])
    return path


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path, tiny_run: Path,
             labelled_csv: Path) -> tuple[dict, Path]:
    """Every variant x installed backend, the Keras baselines, --data, plots."""
    out = tmp_path_factory.mktemp("bench-full")
    code = main(["bench", str(tiny_bundle), *SMOKE, "--batch-size", str(BATCH), "--data", str(labelled_csv),
                 "--keras-model", str(tiny_run / "model.keras"), "--no-browser", "--out", str(out)])
    assert code == 0
    return json.loads((out / "results.json").read_text(encoding="utf-8")), out


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path) -> Path:
    """One row only: the second run compare needs."""
    out = tmp_path_factory.mktemp("bench-small")
    code = main(["bench", str(tiny_bundle), *SMOKE, "--variants", "onnx-fp32", "--backends", "onnxruntime",
                 "--no-keras", "--no-plots", "--out", str(out)])
    assert code == 0
    return out / "results.json"


def expected_pairs(bundle_path: Path) -> set[tuple[str, str]]:
    """What the runtime's own selection rules say can run here."""
    bundle = Bundle.open(bundle_path)
    pairs = {(o.variant, o.backend) for name in bundle.variants for o in selection.options(bundle, name) if o.problem is None}
    if HAS_KERAS:
        pairs |= {(KERAS_VARIANT, mode) for mode in KERAS_MODES}
    if installed("mediapipe"):  # the mobile variants also run in MediaPipe's TextClassifier, raw text in
        pairs |= {(name, "mediapipe") for name, entry in bundle.variants.items() if entry.mediapipe is not None}
    return pairs


def test_every_runnable_pair_is_measured_in_its_own_worker(full_run: tuple[dict, Path], tiny_bundle: Path) -> None:
    results, _ = full_run
    assert {(r["variant"], r["backend"]) for r in results["rows"]} == expected_pairs(tiny_bundle)
    failed = {(r["variant"], r["backend"]): r.get("error") for r in results["rows"] if r["status"] != "ok"}
    assert not failed
    for row in results["rows"]:
        if row["kind"] == "bundle":
            assert row["loaded"] == {"variant": row["variant"], "backend": row["backend"]}


def test_results_document_records_run_machine_and_bundle(full_run: tuple[dict, Path], tiny_bundle: Path) -> None:
    results, _ = full_run
    assert results["schema_version"] == 1 and results["kind"] == "edgelstm-bench"
    for command in (results["command"], results["resolved_command"]):
        assert command.startswith("edgelstm bench ") and "--runs 2" in command
    for key in ("cpu", "cores", "machine", "platform", "python", "libraries"):
        assert results["machine"][key]
    assert "numpy" in results["machine"]["libraries"]
    assert len(results["bundle"]["manifest_sha256"]) == 64
    assert results["settings"]["runs"] == 2 and results["settings"]["batch_size"] == BATCH
    assert results["inputs"]["latency"]["source"] == "data"
    assert results["inputs"]["data"]["used"] == DATA_ROWS


def test_rows_hold_sane_figures(full_run: tuple[dict, Path]) -> None:
    results, _ = full_run
    golden = results["inputs"]["golden_count"]
    for row in results["rows"]:
        if row["kind"] == "mediapipe":  # raw text, one text per call, no data set: tests/test_mobile.py
            continue
        for phase in ("real", "full"):
            figures = row["latency"][phase]
            assert figures["runs"] == 2 and len(figures["samples_ms"]) == 2
            assert 0 <= figures["min_ms"] <= figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
        assert row["throughput"]["batch_size"] == BATCH and row["throughput"]["sequences"] == 2 * BATCH
        assert row["throughput"]["sequences_per_s"] > 0
        assert all(value >= 0 for value in row["timings"].values())
        assert row["timings"]["cold_start_s"] >= row["timings"]["load_s"]
        assert row["memory"]["peak_rss_mb"] >= row["memory"]["rss_at_start_mb"] > 0
        assert row["parity"]["n"] == golden and row["parity"]["non_finite"] == 0
        assert row["accuracy"]["n"] == DATA_ROWS and 0 <= row["accuracy"]["accuracy"] <= 100
        assert row["bytes"] > 0 and row["size_ratio"] > 0
        assert row["threads"] == 1


def test_bundle_rows_time_raw_text_beside_ids_and_the_bare_interpreter(full_run: tuple[dict, Path]) -> None:
    results, out = full_run
    texts = results["inputs"]["texts"]
    assert texts["source"] == "data" and texts["encode_to_latency_ids"] == 1.0  # the same ids, as text
    for row in results["rows"]:
        if row["kind"] != "bundle":
            assert "text" not in row["latency"] and "text_throughput" not in row  # Keras takes ids only
            continue
        for phase in ("interpreter", "text"):
            assert row["latency"][phase]["runs"] == 2 and row["latency"][phase]["p50_ms"] > 0
            assert row["latency"][phase]["cpu_p50_ms"] >= 0  # the CPU clock beside the wall clock
        batch = row["text_throughput"]
        assert batch["batch_size"] == BATCH and batch["texts_per_s"] > 0
        assert batch["tokenize_latency"]["p50_ms"] > 0 and batch["tokenize_share"] > 0
        assert batch["tokenize_share_cpu"] is None or batch["tokenize_share_cpu"] >= 0
    text = (out / "results.md").read_text(encoding="utf-8")
    assert "## Raw text in" in text and "text x interpreter" in text


def test_without_data_the_raw_text_phases_read_the_golden_ids_as_words(small_run: Path) -> None:
    results = json.loads(small_run.read_text(encoding="utf-8"))
    texts = results["inputs"]["texts"]
    assert texts["source"] == "golden ids as words" and texts["encode_to_latency_ids"] == 1.0
    assert results["rows"][0]["latency"]["text"]["p50_ms"] > 0


def test_device_rows_never_import_tensorflow(full_run: tuple[dict, Path]) -> None:
    results, _ = full_run
    assert not [r["variant"] for r in results["rows"] if r["kind"] == "bundle" and r["tensorflow_imported"]]


@pytest.mark.skipif(not HAS_KERAS, reason="the Keras baseline needs TensorFlow")
def test_keras_baselines_give_speedups(full_run: tuple[dict, Path]) -> None:
    results, _ = full_run
    keras_rows = [r for r in results["rows"] if r["variant"] == KERAS_VARIANT]
    assert [r["backend"] for r in keras_rows] == list(KERAS_MODES)
    assert all(r["parity"]["passed"] for r in keras_rows)  # it reproduces its own golden outputs
    for row in results["rows"]:
        assert set(row["speedup"]) == set(KERAS_MODES) and all(x > 0 for x in row["speedup"].values())


def test_markdown_and_plots_are_written(full_run: tuple[dict, Path]) -> None:
    results, out = full_run
    text = (out / "results.md").read_text(encoding="utf-8")
    assert results["command"] in text
    for row in results["rows"]:
        assert f"| {row['variant']} / {row['backend']} |" in text
    if installed("matplotlib"):
        assert (out / "latency.png").stat().st_size > 0 and (out / "size_latency_accuracy.png").stat().st_size > 0


def test_compare_puts_runs_side_by_side(full_run: tuple[dict, Path], small_run: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    _, full_out = full_run
    assert main(["bench", "compare", str(full_out / "results.json"), str(small_run), "--out", str(tmp_path)]) == 0
    table = (tmp_path / "compare.md").read_text(encoding="utf-8")
    assert "| onnx-fp32 / onnxruntime |" in table and "p50 ms" in table
    assert table.strip() in capsys.readouterr().out.strip()
    if installed("matplotlib"):
        assert (tmp_path / "compare.png").stat().st_size > 0


def test_compare_refuses_runs_of_different_bundles(small_run: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    other = json.loads(small_run.read_text(encoding="utf-8"))
    other["bundle"]["manifest_sha256"] = "0" * 64
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other), encoding="utf-8")
    assert main(["bench", "--compare", str(small_run), str(other_path)]) == 2
    assert "different bundles" in capsys.readouterr().err
    assert main(["bench", "--compare", str(small_run), str(other_path), "--allow-different-bundles"]) == 0


def test_a_failing_worker_becomes_an_error_row(tiny_bundle: Path) -> None:
    spec = {"kind": "bundle", "variant": "onnx-fp32", "backend": "onnxruntime", "bundle": str(tiny_bundle / "missing"),
            "threads": 1, "warmup": 0, "runs": 1, "seconds": 1.0, "batch_size": 1, "inputs": "none.npz",
            "first_ids": [0]}
    result = run_worker(spec, Progress(1, enabled=False))
    assert result["status"] == "error" and "BundleError" in result["error"]


def test_keras_rows_are_skipped_with_a_note_when_the_model_is_gone(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = Bundle.open(tiny_bundle)
    bundle.manifest.source_run = dataclasses.replace(bundle.manifest.source_run, name="deleted-run",
                                                     model_sha256="0" * 64)
    notes: list[str] = []
    assert plan_keras_rows(bundle, BenchSettings(), None, notes) == []
    assert notes and ("--keras-model" in notes[0] or "TensorFlow is not installed" in notes[0])


def test_the_source_run_is_found_beside_the_bundle_only_with_the_same_model(tiny_bundle: Path, tiny_run: Path,
                                                                           tmp_path: Path) -> None:
    opened = Bundle.open(tiny_bundle)
    model = tmp_path / "my-run" / "model.keras"
    model.parent.mkdir()
    shutil.copyfile(tiny_run / "model.keras", model)
    source = dataclasses.replace(opened.manifest.source_run, name="my-run")
    moved = Bundle(root=tmp_path / "bundle", manifest=dataclasses.replace(opened.manifest, source_run=source),
                   tokenizer=opened.tokenizer)
    assert source_run_model(moved) == model
    moved.manifest.source_run = dataclasses.replace(source, model_sha256="0" * 64)  # a retrained run of the same name
    assert source_run_model(moved) is None


def test_bench_runs_where_tensorflow_cannot_be_imported(tiny_bundle: Path, tmp_path: Path, labelled_csv: Path) -> None:
    """The parent never needs TensorFlow: blocked, the Keras rows become a note and --data still reads."""
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
            "from edgelstm.main import main\n"
            f"code = main(['bench', {str(tiny_bundle)!r}, '--runs', '2', '--warmup', '1', '--no-progress', "
            f"'--data', {str(labelled_csv)!r}, "
            f"'--variants', 'onnx-dynint8', '--backends', 'onnxruntime', '--no-plots', '--out', {str(tmp_path)!r}])\n"
            "sys.exit(code)\n")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert [r["variant"] for r in results["rows"]] == ["onnx-dynint8"]
    assert any("TensorFlow is not installed" in note for note in results["notes"])
    assert results["rows"][0]["accuracy"]["n"] == DATA_ROWS
