"""Write a folder (a run directory, a bundle) all at once or not at all.

Files go to a hidden folder beside the target (same filesystem, so the final
rename is atomic) named after the writing process's id. SIGINT and SIGTERM
remove it; after SIGKILL nothing can run, so the target is still untouched and
the next write into the same parent removes the orphan. An existing target is
only replaced with `force`, only when it is of the same kind (it holds
`marker`) or empty, and only once the new one is complete.

Putting the finished folder in place is `edgelstm.core.swap`'s: one atomic exchange on
Linux, signals held until it is done, and a half-done fallback swap repaired by
the next writer. A signal held that way arrives after the write has succeeded:
it is reported on stderr and otherwise ignored, since nothing is left to stop.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edgelstm.core import swap
from edgelstm.core.errors import ConfigError

PARTIAL = re.compile(r"^\.(?P<name>.+)\.edgelstm-(?P<pid>\d+)-[^.]+\.(partial|old)$")


def check_target(target: Path, *, force: bool, marker: str, kind: str) -> None:
    """Refuse, before any work, what the final rename would refuse."""
    if not target.exists() and not target.is_symlink():
        return
    if not force:
        raise ConfigError(f"{target} already exists: pass --force to replace it, or choose another --out")
    if target.is_symlink() or not target.is_dir():
        raise ConfigError(f"{target} exists and is not a folder: remove it yourself or choose another --out")
    if any(target.iterdir()) and not (target / marker).is_file():
        raise ConfigError(f"{target} is a folder but not a {kind} (no {marker}): --force only replaces "
                          f"{kind}s; choose another --out")


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every `finally` and `except BaseException` cleans up."""


@contextmanager
def staging(target: Path, *, force: bool, marker: str, kind: str) -> Iterator[Path]:
    """Yield an empty folder beside `target`; on success it becomes `target`, otherwise it vanishes."""
    check_target(target, force=force, marker=marker, kind=kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(target.parent)
    folder = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".partial", dir=target.parent))
    try:
        folder.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary folder
        with _sigterm_interrupts():
            yield folder
            with swap.deferred_signals() as held:
                check_target(target, force=force, marker=marker, kind=kind)  # it may have appeared meanwhile
                _move_into_place(folder, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    for signum in held:
        print(f"edgelstm: {signal.Signals(signum).name} arrived while {target} was being put in place; "
              "it was finished first and is complete", file=sys.stderr)


def _prefix(target: Path) -> str:
    return f".{target.name}.edgelstm-{os.getpid()}-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def _move_into_place(folder: Path, target: Path) -> None:
    # The fallback's aside folder exists before any rename, so a crash between its two
    # renames leaves the old folder where the next writer finds and restores it.
    aside = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".old", dir=target.parent))
    try:
        old = swap.exchange_or_place(folder, target, aside)
        if old is not None and old != aside:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        swap.restore_lost(aside, target)  # the fallback's second rename failed: the old folder goes back
        shutil.rmtree(aside, ignore_errors=True)


def remove_orphans(parent: Path) -> list[Path]:
    """Remove staging folders left in `parent` by writers that no longer run (killed with SIGKILL)."""
    removed = []
    for path in parent.iterdir():
        match = PARTIAL.match(path.name)
        if match and path.is_dir() and not _alive(int(match["pid"])):
            _restore_if_lost(path, parent / match["name"])
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _restore_if_lost(orphan: Path, target: Path) -> None:
    if orphan.suffix == ".old":
        swap.restore_lost(orphan, target)


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
