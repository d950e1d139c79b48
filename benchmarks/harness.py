"""One benchmark run of a bundle: plan, prepare inputs, measure every row, assemble results.json."""

from __future__ import annotations

import datetime
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm import __version__
from edgelstm.benchmarks import consistency
from edgelstm.benchmarks.browser import browser_rows
from edgelstm.benchmarks.inputs import prepare_inputs
from edgelstm.benchmarks.machine import machine_info
from edgelstm.benchmarks.progress import Progress
from edgelstm.benchmarks.runner import KERAS_VARIANT, plan_bundle_rows, plan_keras_rows, run_worker, worker_spec
from edgelstm.benchmarks.settings import BenchSettings
from edgelstm.core.errors import ConfigError
from edgelstm.core.hashing import sha256_of
from edgelstm.runtime.bundle import MANIFEST, WEIGHTS, Bundle

RESULTS_SCHEMA_VERSION = 1
RESULTS_KIND = "edgelstm-bench"


def benchmark(bundle_path: str | Path, settings: BenchSettings, *, data: str | Path | None = None,
              keras_model: str | None = None, command: str = "", resolved_command: str = "",
              show_progress: bool = True) -> dict[str, Any]:
    """Measure every planned row of a bundle and return the results document (see README.md)."""
    started = time.time()
    bundle = Bundle.open(bundle_path)  # every file checked once here, so a worker failure is the interpreter's
    notes: list[str] = []
    rows = plan_keras_rows(bundle, settings, keras_model, notes) + plan_bundle_rows(bundle, settings, notes)
    if not rows:
        raise ConfigError("nothing to measure: " + "; ".join(notes or ["no variant selected"]))
    with tempfile.TemporaryDirectory(prefix="edgelstm-bench-") as folder:
        inputs_file = Path(folder) / "inputs.npz"
        inputs = prepare_inputs(bundle, inputs_file, data=data, max_examples=settings.max_examples)
        with np.load(inputs_file) as arrays:
            first_ids = arrays["latency_ids"][0].tolist()
        results = measure_rows(rows, bundle, settings, inputs_file, first_ids, show_progress)
    if settings.browser and settings.backends:
        notes.append("no browser rows: --backends names the Python backends to measure; leave it out for the browser rows")
    elif settings.browser:
        results += browser_rows(bundle, notes, wanted=settings.variants)
    add_sizes(results, bundle)
    add_speedups(results)
    machine = machine_info()
    notes += [f"warning: {warning}" for warning in consistency.warnings_for(results, machine.get("cores"))]
    return {
        "schema_version": RESULTS_SCHEMA_VERSION, "kind": RESULTS_KIND, "edgelstm": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": time.time() - started, "command": command, "resolved_command": resolved_command,
        "machine": machine,
        "bundle": bundle_summary(bundle),
        "settings": {**settings.to_dict(), "data": str(data) if data else None, "keras_model": keras_model},
        "inputs": inputs, "rows": results, "notes": notes,
    }


def measure_rows(rows: list[dict], bundle: Bundle, settings: BenchSettings, inputs_file: Path,
                 first_ids: list[int], show_progress: bool) -> list[dict[str, Any]]:
    progress = Progress(len(rows), enabled=show_progress)
    results = []
    for index, row in enumerate(rows):
        progress.start_row(index, f"{row['variant']} on {row['backend']}")
        before = consistency.load_average()
        result = run_worker(worker_spec(row, bundle, settings, inputs_file, first_ids), progress)
        progress.end_row(row_status(result))
        # The load while this row ran: what a reader needs to judge its figures.
        results.append({**row, "threads": settings.interpreter_threads, **result,
                        "load_average": {"before": before, "after": consistency.load_average()}})
    return results


def row_status(result: dict[str, Any]) -> str:
    """One line for the progress log."""
    if result.get("status") != "ok":
        return f"error: {result.get('error')}"
    p50 = result["latency"]["real"]["p50_ms"]
    rate = result["throughput"]["sequences_per_s"] or 0.0
    return f"p50 {p50:.3g} ms, {rate:.0f} seq/s"


def bundle_summary(bundle: Bundle) -> dict[str, Any]:
    """What identifies the bundle: compare refuses runs whose manifest_sha256 differ."""
    manifest = bundle.manifest
    return {"path": str(bundle.root.resolve()), "manifest_sha256": sha256_of(bundle.root / MANIFEST),
            "created": manifest.created, "default_variant": manifest.default_variant,
            "variants": list(bundle.variants), "labels": bundle.labels, "maxlen": bundle.tokenizer.maxlen,
            "source_model_sha256": manifest.source_run.model_sha256,
            "source_validation_accuracy": manifest.source_run.validation_accuracy}


def size_reference(bundle: Bundle, fmt: str) -> str | None:
    """The float32 variant sizes are compared with: same format first."""
    for name in (f"{fmt}-fp32", "tflite-fp32", "onnx-fp32"):
        if name in bundle.variants:
            return name
    return None


def add_sizes(results: list[dict[str, Any]], bundle: Bundle) -> None:
    """File, bytes and ratio to the float32 model of every row."""
    files = bundle.manifest.files
    for row in results:
        if row["variant"] == KERAS_VARIANT:
            path = Path(row["keras_model"])
            row["file"], row["bytes"], fmt = path.name, path.stat().st_size, "keras"
        else:
            fmt = bundle.variant(row["variant"]).format
            row["file"] = WEIGHTS if row["backend"] == "numpy" else bundle.variant(row["variant"]).file
            row["bytes"] = files[row["file"]].bytes
        reference = size_reference(bundle, fmt)
        row["size_reference"] = reference
        row["size_ratio"] = row["bytes"] / files[bundle.variant(reference).file].bytes if reference else None


def add_speedups(results: list[dict[str, Any]]) -> None:
    """Each row's median latency against each Keras baseline measured in the same run."""
    baselines = {row["backend"]: row["latency"]["real"]["p50_ms"] for row in results
                 if row["variant"] == KERAS_VARIANT and row.get("status") == "ok"}
    for row in results:
        if row.get("status") == "ok":
            p50 = row["latency"]["real"]["p50_ms"]
            row["speedup"] = {mode: base / p50 for mode, base in baselines.items() if p50 > 0}
