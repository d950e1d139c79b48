"""Run one export job in a child process and turn whatever happens into a result or a clear error.

The child's output goes to a log file: TensorFlow is loud, and only a failing
job's last lines are worth showing. A child dies with its parent (Linux), so a
killed export leaves no converter running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgelstm.core.processes import die_with_parent_hook, is_crash, signal_name

DEFAULT_TIMEOUT = 3600.0  # seconds; a full-int8 IMDB conversion takes a few minutes
LOG_TAIL_LINES = 6


class JobFailed(Exception):
    """A job ended without a result: the message says how (exception, crash, timeout)."""


@dataclass
class Job:
    kind: str
    name: str  # names its files in the work folder, e.g. "convert-tflite-fp32"
    params: dict[str, Any]


@dataclass(frozen=True)
class ConversionJob:
    """What a route's converter function (`Route.converter` in core/variants.py) is given, in its process."""

    model: Path  # the run's model.keras
    out: Path  # the file to write
    precision: str  # the variant's precision
    calibration: Path  # the run's calibration.npz, for full-integer calibration
    source: Path | None = None  # the file of the route's source variant, when it transforms one
    # For a file that carries the tokenizer (the MediaPipe route): the run's tokenizer.json, the
    # task's labels, and where to write the tokenization probe export's MediaPipe check runs.
    tokenizer: Path | None = None
    labels: tuple[str, ...] = ()
    probe: Path | None = None


def run_job(job: Job, work: Path, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Run `job` in a fresh interpreter; return its result dict or raise JobFailed."""
    spec_path, result_path, log_path = (work / f"{job.name}{suffix}" for suffix in (".json", ".result.json", ".log"))
    spec_path.write_text(json.dumps({"kind": job.kind, "result": str(result_path), **job.params}), encoding="utf-8")
    command = [sys.executable, "-m", "edgelstm.export.worker", str(spec_path)]
    with open(log_path, "wb") as log:
        try:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  env=_child_env(), timeout=timeout, preexec_fn=die_with_parent_hook()).returncode
        except subprocess.TimeoutExpired:
            raise JobFailed(f"timed out after {timeout:.0f} s") from None
    result = _read_result(result_path)
    if result is not None and result.get("ok"):
        return result
    if result is not None:
        raise JobFailed(result.get("error", "failed"))
    raise JobFailed(_describe_exit(code, log_path))


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    return env


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _describe_exit(code: int, log_path: Path) -> str:
    if code < 0:
        name = signal_name(-code)
        if is_crash(code):
            where = _crash_site(log_path)
            return f"the process crashed ({name})" + (f" in {where}" if where else "")
        return f"the process was killed ({name})"
    tail = log_tail(log_path)
    message = f"the process exited with code {code} without a result"
    return f"{message}; last output: {tail}" if tail else message


def _crash_site(log_path: Path) -> str:
    """The innermost Python frame of faulthandler's report in the job log, e.g. the converter call."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    for position, line in enumerate(lines):
        if "most recent call first" in line and position + 1 < len(lines):
            return lines[position + 1].strip()
    return ""


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)
