"""The cluster-start deadline of a multi-worker worker, held by a parent process.

`edgelstm train --distribute multi-worker` runs as two processes: this supervisor, which
imports no TensorFlow, and the worker it starts (the same command, with the resolved config
as one config.json). The worker reports through a pipe once every worker of TF_CONFIG has
joined; if that has not happened within `--cluster-timeout` seconds of the worker's start,
the supervisor kills it and fails with one line.

Why a process and not a timer thread in the worker: while TensorFlow waits for its peers it
can hold the GIL inside a C++ call, so a Python thread there never runs (a `threading.Timer`
watchdog hung in 2 of 4 suite runs on 2026-12-01), and the waiting worker ignores SIGTERM.
Here nothing competes for the supervisor's interpreter, and SIGKILL needs no cooperation.

The supervisor is otherwise transparent: the worker inherits stdin, stdout and stderr, gets
the supervisor's SIGINT and SIGTERM (it runs in its own process group, so it gets each one
once), dies with it (PR_SET_PDEATHSIG on Linux), and the supervisor ends
with the worker's exit code, or by the signal that ended the worker. The deadline counts from
the worker's start, so it includes importing TensorFlow (seconds, more on a loaded machine).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable

from edgelstm.core.processes import die_with_parent_hook
from edgelstm.train.distributed import Cluster, ClusterError

# The file descriptor (inherited) on which the worker reports that the cluster has joined.
READY_FD_ENV = "EDGELSTM_CLUSTER_READY_FD"
READY = b"1"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def is_worker() -> bool:
    """True in the worker a supervisor started: the deadline is held outside this process."""
    return READY_FD_ENV in os.environ


def report_ready() -> None:
    """In the worker, once every worker has joined: the supervisor stops the clock."""
    fd = os.environ.pop(READY_FD_ENV, None)
    if fd is None:
        return
    try:
        os.write(int(fd), READY)
        os.close(int(fd))
    except OSError:
        pass  # the supervisor is gone; PR_SET_PDEATHSIG ends this process anyway


def supervise(command: list[str], cluster: Cluster, timeout: float) -> int:
    """Run the worker `command`; its exit code, or a ClusterError once `timeout` passes unjoined."""
    read_end, write_end = os.pipe()
    env = {**os.environ, READY_FD_ENV: str(write_end)}
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    worker = subprocess.Popen(command, env=env, pass_fds=(write_end,), preexec_fn=_worker_setup())
    os.close(write_end)
    try:
        # Until the cluster has joined, nothing is written: a stop request kills the worker.
        for signum in STOP_SIGNALS:
            signal.signal(signum, _interrupt)
        if not _joined_in_time(read_end, worker, timeout):
            raise ClusterError(_timeout_message(cluster, timeout))
        # Training: the worker stops itself cleanly (its staging folder removed).
        for signum in STOP_SIGNALS:
            signal.signal(signum, lambda number, frame: worker.poll() is None and worker.send_signal(number))
        return _exit_like(worker.wait())
    finally:
        os.close(read_end)
        if worker.poll() is None:
            _kill(worker)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _worker_setup() -> Callable[[], None]:
    """Between fork and exec: the worker's own process group (every stop request reaches it
    once, through the supervisor), and SIGKILL when the supervisor dies."""
    die_with_parent = die_with_parent_hook()

    def setup() -> None:
        os.setpgid(0, 0)
        if die_with_parent is not None:
            die_with_parent()

    return setup


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _joined_in_time(read_end: int, worker: subprocess.Popen, timeout: float) -> bool:
    """Wait for the worker's report; True also when it ended first (its own exit code tells)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            readable, _, _ = select.select([read_end], [], [], left)
        except InterruptedError:
            continue
        if readable:
            os.read(read_end, 1)  # READY, or b"" when the worker ended without joining
            return True
    return worker.poll() is not None


def _timeout_message(cluster: Cluster, timeout: float) -> str:
    others = ", ".join(a for a in cluster.addresses if a != cluster.address)
    return (f"the cluster did not assemble within {timeout:.0f} s: {cluster.describe()} waited for {others}; "
            "start every worker with the same TF_CONFIG cluster and its own task index, or raise --cluster-timeout")


def _kill(worker: subprocess.Popen) -> None:
    """SIGKILL: a worker waiting for peers ignores SIGTERM, and it has written nothing yet."""
    worker.kill()
    worker.wait()


def _exit_like(code: int) -> int:
    """The worker's exit code; a worker ended by a signal ends the supervisor by the same signal."""
    if code >= 0:
        return code
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
    return 128 - code  # not reached for a fatal signal
