"""Write the run directory of docs/contracts.md all at once, or not at all.

Staging is `edgelstm.core.staging`'s, shared with the bundle writer: files go to a hidden
folder beside the target, renamed into place at the end; any failure or interrupt
removes it, so a run directory is always complete.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from edgelstm.core import jsonio
from edgelstm.core import staging as _staging

RUN_FILES = ("model.keras", "tokenizer.json", "config.json", "metrics.json", "validation.npz", "calibration.npz")
# A folder --force may replace: empty, or holding a run's config. Anything else is left alone.
RUN_MARKER = "config.json"


# `--force` replaces only a folder that holds a run's config (or an empty one).
check_target = functools.partial(_staging.check_target, marker=RUN_MARKER, kind="run directory")
staging = functools.partial(_staging.staging, marker=RUN_MARKER, kind="run directory")


write_json = jsonio.write_json


def write_arrays(path: Path, **arrays: Any) -> None:
    import numpy as np  # here, not at import: `edgelstm train --help` reads this module's names

    np.savez_compressed(path, **arrays)  # compressed: the ids are mostly padding zeros
