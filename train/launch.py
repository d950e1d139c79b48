"""`edgelstm train --workers N`: N multi-worker training processes on this machine, 127.0.0.1 only.

For trying `--distribute multi-worker` and for tests: each worker is `edgelstm train
--distribute multi-worker` with its own TF_CONFIG naming N free loopback ports, and the
resolved config passed as one config.json, so every worker trains exactly the same recipe.
The chief (worker 0) talks to the terminal; the other workers' own messages (lines starting
"edgelstm") are relayed to stderr prefixed with their index, TensorFlow's logs dropped.

The job is all or nothing: when one worker fails, the others cannot finish their collectives,
so they are stopped at once (SIGKILL after a grace period: TensorFlow catches SIGTERM) and
the launcher exits with one line naming the worker and how it ended. Only the chief writes
the run directory, and only at the very end, so a failed job leaves none.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from edgelstm.core.errors import ConfigError
from edgelstm.train.distributed import ClusterError

LOOPBACK = "127.0.0.1"
# Seconds the surviving workers get to exit on their own after another failed.
GRACE_S = 5.0
POLL_S = 0.2
# Lines of TensorFlow's Python and absl logging a worker's stderr carries besides its C++ log.
TENSORFLOW_NOISE = ("WARNING: All log messages", "To enable the following", "WARNING:tensorflow:", "/job:")


def check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers must be an integer >= 1 (local training processes), got {workers!r}")
    return workers


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now; held together so no two are the same."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"{LOOPBACK}:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def worker_environment(ports: list[int], index: int) -> dict[str, str]:
    """The worker's TF_CONFIG, and its share of this machine's cores for TensorFlow's thread pools."""
    threads = str(max(1, (os.cpu_count() or 1) // len(ports)))
    return {**os.environ, "TF_CONFIG": tf_config(ports, index), "TF_NUM_INTRAOP_THREADS": threads,
            "TF_NUM_INTEROP_THREADS": threads, "PYTHONUNBUFFERED": "1"}


def worker_command(config_file: Path, out: str | Path, *, force: bool, quiet: bool,
                   cluster_timeout: float) -> list[str]:
    """One worker of a TF_CONFIG cluster, training exactly the resolved config in `config_file`."""
    command = [sys.executable, "-m", "edgelstm", "train", "--distribute", "multi-worker", "--config",
               str(config_file), "--out", str(out), "--cluster-timeout", str(cluster_timeout)]
    return command + ["--force"] * force + ["--quiet"] * quiet


def launch(config: dict[str, Any], out: str, *, workers: int, force: bool, quiet: bool,
           cluster_timeout: float) -> int:
    """Run the N workers to the end; 0 when every one succeeded, else a ClusterError."""
    check_workers(workers)
    ports = free_ports(workers)
    with tempfile.TemporaryDirectory(prefix="edgelstm-workers-") as folder:
        config_file = Path(folder) / "config.json"
        config_file.write_text(json.dumps(config), encoding="utf-8")
        command = worker_command(config_file, out, force=force, quiet=quiet, cluster_timeout=cluster_timeout)
        processes = [_start(command, ports, index) for index in range(workers)]
        try:
            return _wait(processes, ports)
        finally:
            _stop(processes)


def _start(command: list[str], ports: list[int], index: int) -> subprocess.Popen:
    chief = index == 0
    process = subprocess.Popen(command, env=worker_environment(ports, index), stdin=subprocess.DEVNULL,
                               stdout=None if chief else subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    print(f"edgelstm: started local worker {index} of {len(ports)} (pid {process.pid}) on {LOOPBACK}:{ports[index]}",
          file=sys.stderr, flush=True)
    process.last_error = ""  # type: ignore[attr-defined]
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            threading.Thread(target=_relay, args=(stream, process, index, chief), daemon=True).start()
    return process


def _relay(stream: IO[bytes], process: subprocess.Popen, index: int, chief: bool) -> None:
    """Pass on a worker's own lines (the chief's stderr whole, minus TensorFlow's log lines)."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        if line.startswith("edgelstm: error:"):
            process.last_error = line.removeprefix("edgelstm: error:").strip()  # type: ignore[attr-defined]
        if line.startswith("edgelstm") or (chief and not _tensorflow_log(line)):
            print(line if chief else f"[worker {index}] {line}", file=sys.stderr, flush=True)


def _tensorflow_log(line: str) -> bool:
    """TensorFlow's C++ log lines (I0000 ..., W0000 ...) and absl's preamble: noise at this level."""
    return line[:1] in "IWEF" and line[1:5].isdigit() or line.startswith(TENSORFLOW_NOISE)


def _wait(processes: list[subprocess.Popen], ports: list[int]) -> int:
    while True:
        codes = [process.poll() for process in processes]
        failed = [index for index, code in enumerate(codes) if code not in (None, 0)]
        if failed:
            raise _failure(processes, failed[0], len(ports))
        if all(code == 0 for code in codes):
            return 0
        time.sleep(POLL_S)


def _failure(processes: list[subprocess.Popen], index: int, workers: int) -> ClusterError:
    process = processes[index]
    code = process.returncode
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    time.sleep(0.5)  # let the relay thread read the worker's last line
    said = f": {process.last_error}" if getattr(process, "last_error", "") else ""
    return ClusterError(f"local worker {index} of {workers} (pid {process.pid}) {how}{said}; "
                        "the other workers were stopped and no run directory was written")


def _stop(processes: list[subprocess.Popen]) -> None:
    """No worker outlives the launcher: SIGTERM, then SIGKILL to what is left after the grace."""
    alive = [p for p in processes if p.poll() is None]
    for process in alive:
        _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    for process in alive:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL)
            process.wait()


def _signal(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
