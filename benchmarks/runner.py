"""Plan the rows of a run (variant x backend, plus Keras baselines) and measure each in a worker.

Rows run one after another, never in parallel: two interpreters timing at once
on a small machine would measure each other.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from edgelstm.benchmarks import mediapipe_row
from edgelstm.benchmarks.progress import Progress
from edgelstm.benchmarks.protocol import WORKER_MODULE, parse_progress
from edgelstm.benchmarks.settings import KERAS_MODES, WORKER_TIMEOUT_S, BenchSettings
from edgelstm.core import rundir
from edgelstm.core.errors import ConfigError
from edgelstm.core.hashing import sha256_of
from edgelstm.core.processes import signal_name
from edgelstm.core.variants import VARIANTS, parse_variants
from edgelstm.runtime import selection, tuning
from edgelstm.runtime.backends.base import BACKENDS, is_installed
from edgelstm.runtime.bundle import Bundle

KERAS_VARIANT = "keras"
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# stderr lines of a failed worker kept in its row, enough for the last traceback.
STDERR_TAIL_LINES = 30


def check_backend_names(requested: list[str]) -> None:
    accepted = [*BACKENDS, mediapipe_row.BACKEND]
    for name in requested:
        if name not in accepted:
            raise ConfigError(f"unknown backend {name!r}: accepted are {', '.join(accepted)}")


def selected_variants(bundle: Bundle, requested: list[str], notes: list[str]) -> list[str]:
    wanted = [spec.name for spec in parse_variants(requested)] if requested else list(VARIANTS)
    for name in wanted:
        if requested and name not in bundle.variants:
            notes.append(f"variant {name} skipped: the bundle does not hold it")
    return [name for name in wanted if name in bundle.variants]


def plan_bundle_rows(bundle: Bundle, settings: BenchSettings, notes: list[str]) -> list[dict[str, Any]]:
    """Every (variant, backend) the runtime's own selection rules say can run here."""
    check_backend_names(settings.backends)
    rows = []
    for variant in selected_variants(bundle, settings.variants, notes):
        options = [o for o in selection.options(bundle, variant) if not settings.backends or o.backend in settings.backends]
        for option in options:
            if option.problem is None:
                rows.append({"kind": "bundle", "variant": variant, "backend": option.backend,
                             "variant_status": bundle.variant(variant).status})
            else:
                # "not installed" holds for every variant: one note per backend is enough.
                subject = option.backend if not is_installed(option.backend) else f"{variant} on {option.backend}"
                if (note := f"{subject} skipped: {option.problem}") not in notes:
                    notes.append(note)
        if not any(row["variant"] == variant for row in rows) and not VARIANTS[variant].is_mobile:
            notes.append(f"variant {variant} skipped: no selected backend can run it here")
    return rows + mediapipe_row.plan_rows(bundle, settings.variants, settings.backends, notes)


def installed(package: str) -> bool:
    """Importable, without importing it (a package blocked in sys.modules counts as absent)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def source_run_model(bundle: Bundle) -> Path | None:
    """The source run's model.keras when it still exists: a run folder of the manifest's run name
    beside the bundle, in the working folder or under ./runs. Only a file whose sha256 is the
    manifest's model_sha256 counts, so a retrained run of the same name is never taken."""
    expected = bundle.manifest.source_run.model_sha256
    name = bundle.manifest.source_run.name
    folders = [bundle.root.resolve().parent / name, Path.cwd() / name, Path.cwd() / "runs" / name] if name else []
    for folder in folders:
        candidate = Path(folder) / rundir.MODEL
        if candidate.is_file() and (expected is None or sha256_of(candidate) == expected):
            return candidate
    return None


def plan_keras_rows(bundle: Bundle, settings: BenchSettings, keras_model: str | None,
                    notes: list[str]) -> list[dict[str, Any]]:
    if not settings.keras:
        return []
    if not installed("tensorflow") or not installed("keras"):
        notes.append("Keras baseline skipped: TensorFlow is not installed here (pip install 'edgelstm[train]')")
        return []
    if keras_model is not None and not Path(keras_model).is_file():
        raise ConfigError(f"--keras-model {keras_model}: no such file (expected RUN/model.keras)")
    path = Path(keras_model) if keras_model else source_run_model(bundle)
    if path is None:
        notes.append("Keras baseline skipped: the bundle does not hold the .keras model and its source run is "
                      "gone; pass --keras-model RUN/model.keras")
        return []
    expected = bundle.manifest.source_run.model_sha256
    if expected and sha256_of(path) != expected:
        notes.append(f"{path} is not the model this bundle was exported from (sha256 differs): "
                     "its parity figures compare two different models")
    return [{"kind": "keras", "variant": KERAS_VARIANT, "backend": mode, "keras_mode": mode, "keras_model": str(path.resolve())}
            for mode in KERAS_MODES]


def worker_spec(row: dict[str, Any], bundle: Bundle, settings: BenchSettings, inputs: Path,
                first_ids: list[int]) -> dict[str, Any]:
    return {**row, "bundle": str(bundle.root.resolve()), "threads": settings.interpreter_threads,
            "warmup": settings.warmup, "runs": settings.runs, "seconds": settings.seconds,
            "batch_size": settings.batch_size, "inputs": str(inputs), "first_ids": first_ids}


def thread_env(threads: int | None, *, kind: str = "keras") -> dict[str, str]:
    """Caps for the BLAS / OpenMP pools that numpy and TensorFlow use outside the interpreters' own
    settings. Set before the worker starts, since these pools read them once, at import. For Keras,
    --threads N means N for everything in the process; for a bundle it means N row workers
    (runtime/tuning.py), each single-threaded, so BLAS gets the runtime's intra-op count."""
    if not threads:
        return {}
    per_pool = threads if kind == "keras" else tuning.INTRA_OP_THREADS
    return {name: str(per_pool) for name in THREAD_ENV}


def run_worker(spec: dict[str, Any], progress: Progress, *, timeout: float = WORKER_TIMEOUT_S) -> dict[str, Any]:
    """Measure one spec in a new Python process; any failure becomes {"status": "error", ...}."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **thread_env(spec["threads"], kind=spec["kind"])}
    spec = {**spec, "spawned_at": time.time()}  # just before the spawn: the cold start counts from here
    process = subprocess.Popen([sys.executable, "-m", WORKER_MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env)
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    reader = threading.Thread(target=_follow_stderr, args=(process.stderr, progress, tail), daemon=True)
    reader.start()
    killed = threading.Event()
    timer = threading.Timer(timeout, lambda: (killed.set(), process.kill()))
    timer.start()
    try:
        process.stdin.write(json.dumps(spec))
        process.stdin.close()
        output = process.stdout.read()
        returncode = process.wait()
    finally:
        timer.cancel()
        reader.join(timeout=5)
    return _parse_result(output, returncode, list(tail), timed_out=killed.is_set())


def _follow_stderr(stream: Any, progress: Progress, tail: collections.deque) -> None:
    for line in stream:
        parsed = parse_progress(line)
        if parsed is not None:
            progress.update(*parsed)
        elif line.strip():
            tail.append(line.rstrip())


def _parse_result(output: str, returncode: int, tail: list[str], *, timed_out: bool) -> dict[str, Any]:
    try:
        result = json.loads(output)
    except json.JSONDecodeError:
        result = None
    if isinstance(result, dict) and returncode == 0:
        if result.get("status") != "ok":
            result["stderr_tail"] = tail
        return result
    if timed_out:
        reason = f"worker killed after {WORKER_TIMEOUT_S:.0f} s"
    elif returncode < 0:
        reason = f"worker crashed with {signal_name(-returncode)}"
    else:
        reason = f"worker exited with status {returncode} without a result"
    return {"status": "error", "error": reason, "stderr_tail": tail}
