"""`edgelstm train --distribute multi-worker` and `--workers N`: real TensorFlow workers on 127.0.0.1.

The two-worker run must train the single-process model: same data order (shuffle off; see
TOLERANCE), global batch = the configured batch, identical weights on both workers, one run
directory. Bad clusters fail with one line, in bounded time, leaving no run directory.

TensorFlow's gRPC server listens on 0.0.0.0 (hard-coded in grpc_server_lib.cc; no option or
variable changes it), so where this runs as root the workers run in a network namespace of
their own that holds only loopback (`private_network`): nothing outside can reach them.
Elsewhere they run as any TF_CONFIG worker does, listening on every interface while they run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgelstm.main import main
from edgelstm.train.distributed import parse_tf_config
from edgelstm.train.launch import free_ports, tf_config

HELPERS = Path(__file__).parent / "helpers"
# Small enough for two workers on a shared 2-core machine; dropout and L2 off because each
# worker draws its own dropout masks, which a single process cannot reproduce.
RECIPE = ["--data", "synthetic", "--synthetic-size", "400", "--vocab-size", "200", "--maxlen", "24",
          "--embedding-dim", "8", "--lstm-units", "8", "--epochs", "2", "--batch-size", "32", "--no-shuffle",
          "--dropout", "0", "--embedding-dropout", "0", "--l2", "0", "--learning-rate", "0.01",
          "--early-stopping-patience", "0", "--quiet"]
# Two workers sum float32 gradients of two half batches where one process sums one batch:
# the order of additions differs, so losses agree to float32 rounding over a few steps
# (measured 1e-7 here), not bit for bit.
TOLERANCE = 1e-4
# Dropout is off (each worker would draw its own masks); the cosine schedule and clipping are the defaults'.
SHA = re.compile(r"worker (\d) of 2 \(127\.0\.0\.1:\d+\) finished; weights sha256 ([0-9a-f]{64})")


def edgelstm(*argv: str, env: dict | None = None, timeout: float = 600,
             prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), sys.executable, "-m", "edgelstm", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture(scope="module")
def private_network() -> Iterator[list[str]]:
    """A command prefix (`ip netns exec NAME`) for a network namespace with loopback only, shared
    by every worker of a test so they reach each other; [] where that needs rights we lack."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        yield []
        return
    name = f"edgelstm-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        prefix = ["ip", "netns", "exec", name]
        subprocess.run([*prefix, "ip", "link", "set", "lo", "up"], check=True, timeout=30)
        links = subprocess.run([*prefix, "ip", "-o", "link"], check=True, capture_output=True, text=True, timeout=30)
        assert [line.split(":")[1].strip() for line in links.stdout.splitlines()] == ["lo"]
        yield prefix
    finally:
        subprocess.run(["ip", "netns", "delete", name], timeout=30)


def only_run_directory(parent: Path) -> list[str]:
    return sorted(path.name for path in parent.iterdir())


@pytest.mark.slow
def test_two_local_workers_train_the_single_process_model(tmp_path: Path, private_network: list[str]) -> None:
    done = edgelstm("train", *RECIPE, "--out", str(tmp_path / "multi" / "run"), "--workers", "2",
                    prefix=private_network)
    assert done.returncode == 0, done.stderr[-3000:]
    digests = dict(SHA.findall(done.stderr))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"], done.stderr[-3000:]
    assert only_run_directory(tmp_path / "multi") == ["run"]  # one run directory, no partial folder
    multi = json.loads((tmp_path / "multi" / "run" / "metrics.json").read_text())
    assert multi["distribution"] == {"strategy": "MultiWorkerMirroredStrategy", "workers": 2, "global_batch": 32,
                                     "per_worker_batch": 16.0, "weights_sha256": digests["0"]}

    assert main(["train", *RECIPE, "--out", str(tmp_path / "single")]) == 0  # one process, in this one
    one = json.loads((tmp_path / "single" / "metrics.json").read_text())
    assert one["distribution"]["strategy"] == "none" and one["distribution"]["workers"] == 1
    for two_epoch, one_epoch in zip(multi["history"], one["history"], strict=True):
        for key in ("loss", "val_loss", "val_bce"):
            assert two_epoch[key] == pytest.approx(one_epoch[key], abs=TOLERANCE), key
    assert multi["validation"]["loss"] == pytest.approx(one["validation"]["loss"], abs=TOLERANCE)
    assert multi["validation"]["accuracy"] == pytest.approx(one["validation"]["accuracy"], abs=1 / 80)


@pytest.mark.slow
def test_stock_keras_still_fails_under_multi_worker(private_network: list[str]) -> None:
    """Shows whether keras-team/keras #20585 is still open for the installed Keras.

    When this test fails, stock Keras trains under MultiWorkerMirroredStrategy: delete
    train/keras_multiworker_fix.py and its use in train/distributed.py.
    """
    ports = free_ports(2)
    workers = [subprocess.Popen([*private_network, sys.executable, str(HELPERS / "stock_keras_multiworker.py")],
                                env={**os.environ, "TF_CONFIG": tf_config(ports, index)}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
               for index in range(2)]
    try:
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    assert not any("FIT-OK" in out for out, _ in outputs), "stock Keras fit now works: drop the fix"
    assert any("PerReplica" in err for _, err in outputs), [err[-2000:] for _, err in outputs]


@pytest.mark.parametrize("config, message", [
    (None, "--distribute multi-worker needs TF_CONFIG"),
    ("{cluster", "TF_CONFIG is not JSON"),
    ('{"cluster": {"worker": ["127.0.0.1:2222"]}}', 'must be a JSON object with "cluster"'),
    ('{"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": {"type": "worker", "index": 2}}',
     "task.index 2 is not a worker of the cluster: accepted are 0 to 1"),
    ('{"cluster": {"worker": ["127.0.0.1:2222"]}, "task": {"type": "chief", "index": 0}}',
     "task.type 'chief' names no job of the cluster: accepted are worker"),
    ('{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}', "is not host:port"),
    ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}', "more than once"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker", "index": 0}}',
     'takes only "chief" and "worker" jobs'),
])
def test_a_wrong_tf_config_is_one_line_naming_what_is_wrong(capsys, monkeypatch, tmp_path, config, message) -> None:
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", config)
    code = main(["train", *RECIPE, "--out", str(tmp_path / "run"), "--distribute", "multi-worker"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_the_chief_and_task_index_place_workers_chief_first() -> None:
    cluster = parse_tf_config(json.dumps({"cluster": {"chief": ["c:1"], "worker": ["w:1", "w:2"]},
                                          "task": {"type": "worker", "index": 1}}))
    assert cluster.addresses == ("c:1", "w:1", "w:2") and cluster.index == 2 and not cluster.is_chief


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_is_refused(capsys, tmp_path: Path, workers: str) -> None:
    code = main(["train", *RECIPE, "--out", str(tmp_path / "run"), "--workers", workers])
    err = capsys.readouterr().err
    assert code == 2 and "--workers must be an integer >= 1" in err and not (tmp_path / "run").exists()


def test_a_port_in_use_is_refused_before_training(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    config = json.dumps({"cluster": {"worker": [f"127.0.0.1:{taken}", f"127.0.0.1:{free_ports(1)[0]}"]},
                         "task": {"type": "worker", "index": 0}})
    try:
        done = edgelstm("train", *RECIPE, "--out", str(tmp_path / "run"), "--distribute", "multi-worker",
                        env={"TF_CONFIG": config}, timeout=120)
    finally:
        holder.close()
    assert done.returncode == 2 and f"port {taken} of worker 0 of 2 (127.0.0.1:{taken}) is in use" in done.stderr
    assert only_run_directory(tmp_path) == []


@pytest.mark.slow
def test_a_worker_whose_peers_never_come_gives_up_after_the_cluster_timeout(tmp_path: Path,
                                                                          private_network: list[str]) -> None:
    ports = free_ports(2)
    started = time.monotonic()
    done = edgelstm("train", *RECIPE, "--out", str(tmp_path / "run"), "--distribute", "multi-worker",
                    "--cluster-timeout", "5", env={"TF_CONFIG": tf_config(ports, 0)}, timeout=60, prefix=private_network)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"the cluster did not assemble within 5 s: worker 0 of 2 (127.0.0.1:{ports[0]}) waited for " \
           f"127.0.0.1:{ports[1]}" in done.stderr
    # Bounded: TensorFlow alone waits forever, and a watchdog thread in the worker could not run
    # while TensorFlow held the GIL (it hung 2 of 4 runs); the supervising process has no such wait.
    assert time.monotonic() - started < 45
    assert only_run_directory(tmp_path) == []


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def dead(pid: int) -> bool:
    """Gone, or a zombie (dead, waiting for whoever adopted it to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_the_worker_waiting_for_peers_stops_with_its_supervisor(tmp_path: Path, private_network: list[str]) -> None:
    """SIGTERM to the supervisor while the worker waits: it stops at once. SIGKILL: the worker dies with it."""
    command = [*private_network, sys.executable, "-m", "edgelstm", "train", *RECIPE, "--out", str(tmp_path / "run"),
               "--distribute", "multi-worker", "--cluster-timeout", "120"]
    for signum in (signal.SIGTERM, signal.SIGKILL):
        supervisor = subprocess.Popen(command, env={**os.environ, "TF_CONFIG": tf_config(free_ports(2), 0)},
                                      stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not children(supervisor.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            workers = children(supervisor.pid)
            time.sleep(3)  # into TensorFlow's wait for the missing peer (or still importing it: the same answer)
            supervisor.send_signal(signum)
            err = supervisor.communicate(timeout=30)[1]
        finally:
            if supervisor.poll() is None:
                supervisor.kill()
        deadline = time.monotonic() + 10
        while not all(dead(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 1 and dead(workers[0]), signum
        expected = (130, "edgelstm: interrupted") if signum == signal.SIGTERM else (-signal.SIGKILL, "")
        assert supervisor.returncode == expected[0] and expected[1] in err, err[-2000:]
    assert only_run_directory(tmp_path) == []


@pytest.mark.slow
def test_a_worker_killed_mid_training_fails_the_job_with_no_run_directory(tmp_path: Path,
                                                                         private_network: list[str]) -> None:
    recipe = [arg if arg != "2" or index != RECIPE.index("--epochs") + 1 else "500" for index, arg in enumerate(RECIPE)]
    launcher = subprocess.Popen([*private_network, sys.executable, "-m", "edgelstm", "train", *recipe,
                                 "--out", str(tmp_path / "run"), "--workers", "2"],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        pids = {}
        for line in launcher.stderr:
            if match := re.search(r"started local worker (\d) of 2 \(pid (\d+)\)", line):
                pids[int(match[1])] = int(match[2])
            if len(pids) == 2:
                break
        time.sleep(20)  # well into training (or still joining: the launcher's answer is the same)
        os.kill(pids[1], signal.SIGKILL)
        err = launcher.stderr.read()
        code = launcher.wait(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert code == 1, err[-2000:]
    assert f"local worker 1 of 2 (pid {pids[1]}) was killed by SIGKILL; the other workers were stopped" in err
    assert only_run_directory(tmp_path) == []
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)  # the chief did not outlive the job
