"""How the parent and a measuring worker talk.

The parent starts `python -m edgelstm.benchmarks.worker`, writes one JSON spec
to its stdin and closes it. The worker writes progress lines to stderr
(`PROGRESS_MARKER phase done total`, everything else on stderr is log) and one
JSON result object to stdout as its last act. Native libraries sometimes print
to stdout, so the worker moves them to stderr and keeps a private copy of the
real stdout for the result.
"""

from __future__ import annotations

import json
import math
from typing import Any

WORKER_MODULE = "edgelstm.benchmarks.worker"
PROGRESS_MARKER = "@@edgelstm-bench-progress"
PROTOCOL_VERSION = 1
# A worker's phases in order, so the progress bar moves forward through a row.
PHASES = ("load", "latency", "full-length", "short-length", "throughput", "text-throughput", "parity", "accuracy")
# Beside the inputs .npz: {"texts": [...]} whose encoding is the .npz's latency_ids, for the raw-text phases.
TEXTS_FILE = "latency_texts.json"


def progress_line(phase: str, done: int, total: int) -> str:
    return f"{PROGRESS_MARKER} {phase} {done} {total}"


def parse_progress(line: str) -> tuple[str, int, int] | None:
    """(phase, done, total) of a progress line, None for any other stderr line."""
    if not line.startswith(PROGRESS_MARKER):
        return None
    parts = line.split()
    try:
        return parts[1], int(parts[2]), int(parts[3])
    except (IndexError, ValueError):
        return None


def jsonable(value: Any) -> Any:
    """Plain JSON types only: numpy scalars become Python numbers, NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Strict JSON (allow_nan=False) of `value` after `jsonable`."""
    return json.dumps(jsonable(value), allow_nan=False, **kwargs)
