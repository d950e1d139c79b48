"""How a child process ended, in words: export's jobs and bench's workers report it the same way."""

from __future__ import annotations

import signal

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
