"""Write the run directory of docs/contracts.md all at once, or not at all.

Files go to a hidden temporary folder beside the target, which is renamed into place at
the end; any failure or interrupt removes it, so a run directory is always complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from edgelstm.runtime.errors import ConfigError

RUN_FILES = ("model.keras", "tokenizer.json", "config.json", "metrics.json", "validation.npz", "calibration.npz")
# A folder --force may replace: empty, or holding a run's config. Anything else is left alone.
RUN_MARKER = "config.json"


def check_target(target: Path, *, force: bool) -> None:
    """Refuse early (before training) what the final rename would refuse."""
    if not target.exists() and not target.is_symlink():
        return
    if not force:
        raise ConfigError(f"{target} already exists: pass --force to replace it, or choose another --out")
    if not target.is_dir() or target.is_symlink():
        raise ConfigError(f"{target} exists and is not a folder: remove it yourself or choose another --out")
    if any(target.iterdir()) and not (target / RUN_MARKER).exists():
        raise ConfigError(f"{target} is a folder but not a run directory (no {RUN_MARKER}): --force only replaces "
                          "run directories; choose another --out")


@contextmanager
def staging(target: Path, *, force: bool) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes `target`, on any exception it vanishes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        temporary.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a run folder is an ordinary one
        yield temporary
        _move_into_place(temporary, target, force=force)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _move_into_place(temporary: Path, target: Path, *, force: bool) -> None:
    check_target(target, force=force)  # the target may have appeared while we trained
    if not target.exists():
        os.rename(temporary, target)
        return
    # Rename the old run aside first so that a crash never leaves neither run.
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rename(target, old / "run")
    os.rename(temporary, target)
    shutil.rmtree(old, ignore_errors=True)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_arrays(path: Path, **arrays: np.ndarray) -> None:
    # Compressed: the ids are mostly padding zeros.
    np.savez_compressed(path, **arrays)
