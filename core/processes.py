"""Child processes: how one ended, in words (export's jobs and bench's workers report it the same
way), and the hook that ends one with its parent."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Signals that mean the process itself failed (a converter segfault), not that someone stopped it.
CRASH_SIGNALS = frozenset({"SIGSEGV", "SIGABRT", "SIGBUS", "SIGILL", "SIGFPE"})


def signal_name(number: int) -> str:
    """"SIGSEGV" for 11; the bare number for a signal this platform does not name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def is_crash(returncode: int) -> bool:
    """True when a negative return code is a crash signal."""
    return returncode < 0 and signal_name(-returncode) in CRASH_SIGNALS


def die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGKILL the child when its parent dies; None elsewhere.

    The library call is looked up here, in the parent: the hook runs between fork and
    exec, where a process with threads (TensorFlow's, say) should do as little as possible.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
