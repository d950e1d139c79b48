"""Put a finished folder at its target path so that every instant has a complete target.

On Linux `renameat2(RENAME_EXCHANGE)` swaps two folders in one system call: the
target is the old folder until that call and the new one after it, with no
moment in between. Elsewhere (another OS, a filesystem without the flag) the old
folder is first moved aside into a `.old` folder, then the new one renamed in;
a writer killed between those two renames leaves the old folder aside, and
`restore_lost` (called by the next writer into the same parent) puts it back.

SIGINT, SIGTERM and SIGHUP that arrive while the folders are being swapped are
held until the swap is done (`deferred_signals`): interrupting it could only
leave a mess. SIGKILL cannot be held; the exchange has no window for it, and the
fallback's window is repaired on the next start.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100
# renameat2's number where glibc is too old to export it (added in glibc 2.28).
_SYSCALL_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "armv7l": 382, "armv6l": 382, "i686": 353}
# The filesystem or kernel cannot do what was asked: fall back to plain renames.
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}
DEFERRED_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s)
ASIDE = "previous"  # the old folder's name inside a `.old` folder of the fallback


def _libc_renameat2():  # noqa: ANN202 - a ctypes function or None
    if platform.system() != "Linux":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    function = getattr(libc, "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        return function
    number = _SYSCALL_RENAMEAT2.get(platform.machine())
    if number is None:
        return None
    syscall = libc.syscall
    return lambda *args: syscall(number, *args)


_renameat2 = _libc_renameat2()


def renameat2(source: Path, target: Path, flags: int) -> bool:
    """One renameat2 call: True when done, False when this system cannot do it (then nothing changed)."""
    if _renameat2 is None:
        return False
    result = _renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(source), None, str(target))


def exchange_or_place(folder: Path, target: Path, aside: Path) -> Path | None:
    """Make `folder` the `target`; return where the old target now is (to delete), or None.

    `aside` is an empty folder beside `target`, used only by the two-rename fallback.
    """
    if target.exists():
        try:
            if renameat2(folder, target, RENAME_EXCHANGE):
                return folder  # the old target now lives at the staging folder's name
        except FileNotFoundError:
            pass  # the target vanished meanwhile: place the new folder as if it never existed
        else:
            os.rename(target, aside / ASIDE)
            os.rename(folder, target)
            return aside
    if not renameat2(folder, target, RENAME_NOREPLACE):
        os.rename(folder, target)
    return None


def restore_lost(aside: Path, target: Path) -> bool:
    """A writer killed between the fallback's two renames left the old folder aside: put it back."""
    old = aside / ASIDE
    if old.is_dir() and not target.exists() and not target.is_symlink():
        os.rename(old, target)
        return True
    return False


@contextmanager
def deferred_signals(signums: tuple[int, ...] = DEFERRED_SIGNALS) -> Iterator[list[int]]:
    """Hold `signums` for the duration; yields the list of those that arrived meanwhile.

    Only the main thread receives Python signals; elsewhere nothing needs holding.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {signum: signal.signal(signum, lambda number, frame: received.append(number)) for signum in signums}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
