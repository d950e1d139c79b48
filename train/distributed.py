"""Training on several workers: tf.distribute.MultiWorkerMirroredStrategy, configured by TF_CONFIG.

`edgelstm train --distribute multi-worker` reads the cluster from `TF_CONFIG` (the standard
way, so the same command runs on a cluster, on Kubernetes or under Ray Train); `edgelstm
train --workers N` starts N such workers on 127.0.0.1 (`edgelstm.train.launch`).

What a run means does not depend on the worker count: the configured batch is the *global*
batch (each of N workers takes batch/N rows of every step, gradients are summed over the
workers), so one step equals a single-process step on the same batch, and the learning rate
keeps its meaning. Every worker trains the same model and ends with the same weights; only
the chief (worker 0, or the task of type "chief") writes the run directory, atomically as a
single process does, and every worker then waits at an exit barrier, so no worker leaves
while another still needs it. metrics.json records the strategy and the worker count.

Bounded waits: the strategy blocks until every worker of TF_CONFIG has joined, holding the
GIL at times and ignoring SIGTERM meanwhile, so the deadline (`--cluster-timeout`) is held by
a supervising parent process (edgelstm.train.watchdog) that kills this worker with one clear
message when the cluster has not assembled in time. A worker lost mid-training
makes TensorFlow's health check (every 30 s) abort the collectives on the others.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from edgelstm.core.errors import ConfigError, EdgeLSTMError

STRATEGIES = ("none", "multi-worker")
# Seconds every worker of TF_CONFIG gets to join before a worker gives up.
DEFAULT_CLUSTER_TIMEOUT_S = 120.0
STRATEGY_NAME = "MultiWorkerMirroredStrategy"
# Task types of TF_CONFIG that train; "ps" and "evaluator" belong to other strategies.
TRAINING_TASKS = ("chief", "worker")


class ClusterError(EdgeLSTMError):
    """The cluster did not assemble, or lost a worker during training."""

    exit_code = 1


@dataclass(frozen=True)
class Cluster:
    """This worker's place in a TF_CONFIG cluster."""

    addresses: tuple[str, ...]  # every training task, the chief first
    index: int  # this worker's position in `addresses`

    @property
    def workers(self) -> int:
        return len(self.addresses)

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    @property
    def address(self) -> str:
        return self.addresses[self.index]

    def describe(self) -> str:
        return f"worker {self.index} of {self.workers} ({self.address})"


def parse_tf_config(text: str | None) -> Cluster:
    """The cluster and this task from TF_CONFIG's JSON, or a ConfigError saying what is wrong."""
    if not text:
        raise ConfigError("--distribute multi-worker needs TF_CONFIG (JSON with \"cluster\" and \"task\", "
                          "e.g. {\"cluster\": {\"worker\": [\"host1:2222\", \"host2:2222\"]}, "
                          "\"task\": {\"type\": \"worker\", \"index\": 0}}); or use --workers N to start N local workers")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG is not JSON ({error.msg} at character {error.pos})") from None
    cluster, task = (value.get("cluster"), value.get("task")) if isinstance(value, dict) else (None, None)
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ConfigError("TF_CONFIG must be a JSON object with \"cluster\" (job -> list of host:port) "
                          "and \"task\" ({\"type\": ..., \"index\": ...})")
    addresses = _training_addresses(cluster)
    return Cluster(addresses, _task_position(cluster, task))


def _training_addresses(cluster: dict[str, Any]) -> tuple[str, ...]:
    other = sorted(set(cluster) - set(TRAINING_TASKS))
    if other:
        raise ConfigError(f"TF_CONFIG cluster has job(s) {', '.join(other)}: MultiWorkerMirroredStrategy "
                          "takes only \"chief\" and \"worker\" jobs")
    addresses = []
    for job in TRAINING_TASKS:
        entries = cluster.get(job, [])
        if not isinstance(entries, list) or not all(isinstance(a, str) for a in entries):
            raise ConfigError(f"TF_CONFIG cluster.{job} must be a list of \"host:port\" strings")
        if job == "chief" and len(entries) > 1:
            raise ConfigError(f"TF_CONFIG cluster.chief lists {len(entries)} addresses: at most one chief")
        addresses += [_check_address(address, job) for address in entries]
    if not addresses:
        raise ConfigError("TF_CONFIG cluster lists no worker: give cluster.worker as a list of host:port")
    duplicates = sorted({a for a in addresses if addresses.count(a) > 1})
    if duplicates:
        raise ConfigError(f"TF_CONFIG cluster lists {', '.join(duplicates)} more than once: every task needs its own port")
    return tuple(addresses)


def _check_address(address: str, job: str) -> str:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"TF_CONFIG cluster.{job} address {address!r} is not host:port (port 1-65535)")
    return address


def _task_position(cluster: dict[str, Any], task: dict[str, Any]) -> int:
    kind, index = task.get("type"), task.get("index", 0)
    jobs = {job: cluster.get(job, []) for job in TRAINING_TASKS}
    if kind not in TRAINING_TASKS or not jobs[kind]:
        listed = ", ".join(job for job in TRAINING_TASKS if jobs[job])
        raise ConfigError(f"TF_CONFIG task.type {kind!r} names no job of the cluster: accepted are {listed}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(jobs[kind]):
        raise ConfigError(f"TF_CONFIG task.index {index!r} is not a {kind} of the cluster: accepted are "
                          f"0 to {len(jobs[kind]) - 1} (cluster.{kind} lists {len(jobs[kind])})")
    return index + (len(jobs["chief"]) if kind == "worker" else 0)


def check_port_free(cluster: Cluster) -> None:
    """Refuse at once a port another process holds: TensorFlow would otherwise fail deep in gRPC."""
    host, _, port = cluster.address.rpartition(":")
    host = host.strip("[]")
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((host, int(port)))  # on the address TF_CONFIG gives, never on every interface
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} of {cluster.describe()} is in use by another process: free it, "
                              "or give this worker another port in TF_CONFIG") from None
        # Not an address of this host as seen here (a Kubernetes service name, say): TensorFlow
        # listens on every interface of its own, so leave it to the cluster timeout.
    finally:
        probe.close()


class Distribution:
    """How a training run is spread: one process (the default), or one worker of a cluster."""

    workers = 1
    is_chief = True
    strategy: Any = None

    def scope(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def record(self, batch_size: int, model: Any) -> dict[str, Any]:
        """metrics.json's "distribution": how the run was spread, and a digest of the weights it ended with."""
        return {"strategy": "none", "workers": 1, "global_batch": batch_size, "per_worker_batch": batch_size,
                "weights_sha256": weights_sha256(model)}

    def finish(self) -> None:
        """The exit barrier: nothing to wait for in one process."""


SINGLE_PROCESS = Distribution()


class MultiWorker(Distribution):
    """One worker of a MultiWorkerMirroredStrategy cluster, joined within a bounded time."""

    def __init__(self, cluster: Cluster) -> None:
        from edgelstm.train import watchdog

        self.cluster, self.workers, self.is_chief = cluster, cluster.workers, cluster.is_chief
        import tensorflow as tf

        self.strategy = tf.distribute.MultiWorkerMirroredStrategy()
        joined = self._all_reduce_ones()  # the first collective returns once every worker is up
        if joined != cluster.workers:
            raise ClusterError(f"{joined} replicas joined, TF_CONFIG lists {cluster.workers} workers")
        watchdog.report_ready()  # the supervisor holding --cluster-timeout stops its clock

    def _all_reduce_ones(self) -> int:
        import tensorflow as tf

        @tf.function  # eager collectives work too, but TensorFlow warns about their overhead
        def count() -> Any:
            return self.strategy.reduce("SUM", self.strategy.run(lambda: tf.constant(1.0)), axis=None)

        return int(count().numpy())

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        from edgelstm.train import keras_multiworker_fix

        with self.strategy.scope(), keras_multiworker_fix.active(), _lost_worker_is_clear(self.cluster):
            yield

    def record(self, batch_size: int, model: Any) -> dict[str, Any]:
        self.digest = weights_sha256(model)
        return {"strategy": STRATEGY_NAME, "workers": self.workers, "global_batch": batch_size,
                "per_worker_batch": batch_size / self.workers, "weights_sha256": self.digest}

    def finish(self) -> None:
        """Every worker waits here until all are done (the chief has written the run directory)."""
        with _lost_worker_is_clear(self.cluster):
            self._all_reduce_ones()
        print(f"edgelstm: {self.cluster.describe()} finished; weights sha256 {self.digest}",
              file=sys.stderr, flush=True)


@contextlib.contextmanager
def _lost_worker_is_clear(cluster: Cluster) -> Iterator[None]:
    """A collective aborted by a lost peer becomes one ClusterError line instead of a gRPC dump."""
    import tensorflow as tf

    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
            tf.errors.AbortedError, tf.errors.InternalError) as error:
        raise ClusterError(f"{cluster.describe()} lost contact with the cluster during training "
                           f"({_explain(error)}); no run directory was written") from None


def _explain(error: Exception) -> str:
    """The part of TensorFlow's many-line collective error that says which task went away."""
    text = str(getattr(error, "message", error))
    lost = sorted(set(re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", text)))
    if "unhealthy" in text and lost:
        tasks = ", ".join(f"{job} {task}" for job, task in lost)
        return f"{tasks} stopped sending heartbeats: it crashed, was stopped or cannot be reached"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(error).__name__}: {(lines[0] if lines else '')[:200]}"


def cluster_from_options(distribute: str, *, timeout: float) -> Cluster | None:
    """This worker's cluster (TF_CONFIG, its port checked) under `--distribute multi-worker`, else None."""
    if distribute == "none":
        return None
    if distribute != "multi-worker":
        raise ConfigError(f"--distribute {distribute!r} is not known: accepted are {', '.join(STRATEGIES)}")
    if not timeout > 0:
        raise ConfigError(f"--cluster-timeout must be > 0 seconds, got {timeout}")
    cluster = parse_tf_config(os.environ.get("TF_CONFIG"))
    check_port_free(cluster)
    return cluster


def from_options(distribute: str, *, timeout: float) -> Distribution:
    """The Distribution `--distribute` names; TF_CONFIG is read before TensorFlow starts.

    A multi-worker run's --cluster-timeout is held by the supervising parent process
    (edgelstm.train.watchdog), not here.
    """
    cluster = cluster_from_options(distribute, timeout=timeout)
    return SINGLE_PROCESS if cluster is None else MultiWorker(cluster)


def weights_sha256(model: Any) -> str:
    """One digest of every weight, to show that every worker ended with the same model."""
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(array.tobytes())
    return digest.hexdigest()
