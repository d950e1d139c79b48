"""Write the run directory of docs/contracts.md all at once, or not at all.

Staging is `edgelstm.staging`'s, shared with the bundle writer: files go to a hidden
folder beside the target, renamed into place at the end; any failure or interrupt
removes it, so a run directory is always complete.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm import staging as _staging

RUN_FILES = ("model.keras", "tokenizer.json", "config.json", "metrics.json", "validation.npz", "calibration.npz")
# A folder --force may replace: empty, or holding a run's config. Anything else is left alone.
RUN_MARKER = "config.json"


# `--force` replaces only a folder that holds a run's config (or an empty one).
check_target = functools.partial(_staging.check_target, marker=RUN_MARKER, kind="run directory")
staging = functools.partial(_staging.staging, marker=RUN_MARKER, kind="run directory")


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_arrays(path: Path, **arrays: np.ndarray) -> None:
    # Compressed: the ids are mostly padding zeros.
    np.savez_compressed(path, **arrays)
