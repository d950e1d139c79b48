"""Write a bundle all at once or not at all.

Files go to a hidden folder beside the target (same filesystem, so the final
rename is atomic) named after the export's process id. SIGINT and SIGTERM
remove it; after SIGKILL nothing can run, so the target is still untouched and
the next export into the same parent removes the orphan. An existing bundle is
only replaced with `force`, and only once the new one is complete.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from edgelstm.runtime.bundle import MANIFEST
from edgelstm.runtime.errors import ConfigError

_PARTIAL = re.compile(r"^\.(?P<name>.+)\.export-(?P<pid>\d+)-[^.]+\.(partial|old)$")


def check_target(target: Path, *, force: bool) -> None:
    """Refuse, before any work, what the final rename would refuse."""
    if not target.exists() and not target.is_symlink():
        return
    if not force:
        raise ConfigError(f"{target} already exists: pass --force to replace it, or choose another --out")
    if target.is_symlink() or not target.is_dir():
        raise ConfigError(f"{target} exists and is not a folder: remove it yourself or choose another --out")
    if any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise ConfigError(f"{target} is a folder but not a bundle (no {MANIFEST}): --force only replaces "
                          "bundles; choose another --out")


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every `finally` and `except BaseException` cleans up."""


@contextmanager
def staging(target: Path, *, force: bool) -> Iterator[Path]:
    """Yield an empty folder beside `target`; on success it becomes `target`, otherwise it vanishes."""
    check_target(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(target.parent)
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.export-{os.getpid()}-", suffix=".partial",
                                   dir=target.parent))
    try:
        with _sigterm_interrupts():
            yield folder
            _move_into_place(folder, target, force=force)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(f"stopped by {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _move_into_place(folder: Path, target: Path, *, force: bool) -> None:
    check_target(target, force=force)  # the target may have appeared while we converted
    if not target.exists():
        os.rename(folder, target)
        return
    # The old bundle goes aside first, so a crash between the renames never loses both.
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.export-{os.getpid()}-", suffix=".old", dir=target.parent))
    os.rename(target, aside / "bundle")
    os.rename(folder, target)
    shutil.rmtree(aside, ignore_errors=True)


def remove_orphans(parent: Path) -> list[Path]:
    """Remove staging folders left in `parent` by exports that no longer run (killed with SIGKILL)."""
    removed = []
    for path in parent.iterdir():
        match = _PARTIAL.match(path.name)
        if match and path.is_dir() and not _alive(int(match["pid"])):
            _restore_if_lost(path, parent / match["name"])
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _restore_if_lost(orphan: Path, target: Path) -> None:
    """An export killed between its two renames left the old bundle aside: put it back."""
    old = orphan / "bundle"
    if orphan.suffix == ".old" and old.is_dir() and not target.exists():
        os.rename(old, target)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
