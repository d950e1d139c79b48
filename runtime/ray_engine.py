"""`edgelstm predict BUNDLE --input FILE --engine ray`: the same scoring on Ray Data, for a cluster.

A Ray Data read task reads FILE with edgelstm's own reader (edgelstm.runtime.inputs: lines,
JSON lines, CSV, Parquet; the same line numbers, byte-order-mark and encoding checks and bad-
record reasons as one process), and `map_batches` sends batches of its records to a pool of
actors (`ActorPoolStrategy(size=N)`), each holding one `Classifier` on one thread: the same
model calls, so the predictions equal the process pool's and one process's. Results stream
back in input order (Ray's streaming executor bounds what is in flight); the driver turns a
bad record into one process's one-line error, or skips it (--skip-bad-lines). An edgelstm
error inside Ray (a bad bundle on an actor, a file the reader refuses) is raised as itself.

With RAY_ADDRESS set, `ray.init()` joins that cluster as Ray always does. Otherwise a local Ray
starts for the job and stops after it, on 127.0.0.1 only (Ray takes the machine's outward
address unless told its cluster mode is off: RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0), with a
token for this job in the environment (Ray would otherwise write ~/.ray/auth_token), its
session files in a temporary folder, and one CPU more than actors (with exactly as many,
Ray Data's file-listing task never gets one and the job hangs).

Needs the `ray` extra: pip install 'edgelstm[ray]'.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from edgelstm.core.errors import BackendUnavailableError, ConfigError, EdgeLSTMError

# Row kinds: a record to score (then scored), a bad record (its reason kept for the driver).
RECORD, BAD = 0, 1
# Records per block the read task emits: Ray streams blocks, so memory stays bounded.
BLOCK_ROWS = 4096
# A Prediction's fields, in order, with what a bad record's row holds instead.
PREDICTION_COLUMNS = {"label": "", "label_id": -1, "probability": 0.0, "score": 0.0, "tokens": 0, "known_tokens": 0,
                      "probabilities": ""}
# Every label's probability travels as JSON text: one column type whatever the number of labels.
PROBABILITIES = "probabilities"


class RayJobError(EdgeLSTMError):
    """Ray could not run the scoring job (start-up, a lost actor, a read error)."""

    exit_code = 1


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is the part this engine needs
    except ImportError:
        raise BackendUnavailableError("--engine ray needs Ray Data: pip install 'edgelstm[ray]'") from None
    return ray


@contextmanager
def ray_session(workers: int) -> Iterator[Any]:
    """Ray for one job: the cluster of RAY_ADDRESS, or a private local one on 127.0.0.1."""
    if os.environ.get("RAY_ADDRESS"):
        ray = import_ray()
        ray.init(log_to_driver=False)
        try:
            yield ray
        finally:
            ray.shutdown()
        return
    folder = tempfile.mkdtemp(prefix="edgelstm-ray-")
    saved = {name: os.environ.get(name) for name in LOCAL_ENV}
    # Before Ray is imported: it reads its authentication mode once, at import.
    os.environ.update(LOCAL_ENV, RAY_AUTH_TOKEN=secrets.token_hex(32))
    try:
        ray = import_ray()
        ray.init(num_cpus=workers + 1, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 _node_ip_address="127.0.0.1", _temp_dir=folder, configure_logging=False)
        try:
            yield ray
        finally:
            ray.shutdown()
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        shutil.rmtree(folder, ignore_errors=True)


# Environment of a local Ray: loopback only, token in the environment, no usage report.
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "",
             "RAY_USAGE_STATS_ENABLED": "0"}


def _read_blocks(path: str, name: str, fmt: str, text_field: str) -> Iterator[Any]:
    """The read task: FILE through edgelstm.runtime.inputs, as Arrow blocks of records in input order."""
    import pyarrow

    from edgelstm.runtime.inputs import BadLine, read_records

    columns: dict[str, list] = {name: [] for name in ("kind", "line", "text", "id", "reason")}

    def block() -> Any:
        table = pyarrow.Table.from_pydict(columns)
        for values in columns.values():
            values.clear()
        return table

    with open(path, "rb") as stream:
        for item in read_records(stream, fmt=fmt, name=name, text_field=text_field):
            bad = isinstance(item, BadLine)
            columns["kind"].append(BAD if bad else RECORD)
            columns["line"].append(item.line)
            columns["text"].append("" if bad else item.text)
            columns["id"].append("" if bad else json.dumps(item.id))
            columns["reason"].append(item.reason if bad else "")
            if len(columns["kind"]) >= BLOCK_ROWS:
                yield block()
    if columns["kind"]:
        yield block()


def _records_datasource(ray: Any, name: str, fmt: str, text_field: str) -> Any:
    """A Ray Data source of one read task running edgelstm's own reader on FILE (`name` as given)."""
    from functools import partial

    path = os.path.abspath(name)  # the task may run in another working directory
    size = os.path.getsize(path)

    class RecordsDatasource(ray.data.Datasource):
        def estimate_inmemory_data_size(self) -> int:
            return size

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list:
            # One task: line numbers and CSV records need the file read from its start, and
            # reading is a few per cent of scoring (measured), so it does not hold up the actors.
            metadata = ray.data.block.BlockMetadata(num_rows=None, size_bytes=size, input_files=[path],
                                                    exec_stats=None)
            return [ray.data.ReadTask(partial(_read_blocks, path, name, fmt, text_field), metadata)]

    return RecordsDatasource()


class _Scorer:
    """A Ray Data actor: one Classifier, adding predictions to batches of records."""

    def __init__(self, bundle: str, variant: str | None, backend: str | None,
                 trusted_keys: tuple[str, ...] | None) -> None:
        from edgelstm.runtime.classifier import Classifier

        self.classifier = Classifier.load(bundle, variant=variant, backend=backend, threads=1,
                                          trusted_keys=trusted_keys)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        scored = [index for index, kind in enumerate(batch["kind"]) if kind == RECORD]
        predictions = self.classifier.predict([str(batch["text"][index]) for index in scored])
        out = {name: [empty] * len(batch["kind"]) for name, empty in PREDICTION_COLUMNS.items()}
        for index, prediction in zip(scored, predictions):
            for name in PREDICTION_COLUMNS:
                out[name][index] = getattr(prediction, name)
            out[PROBABILITIES][index] = json.dumps(prediction.probabilities)
        return {**batch, **out}


def score_file(path: str, *, bundle: str, variant: str | None, backend: str | None, fmt: str, workers: int,
               batch_size: int, trusted_keys: tuple[str, ...] | None = None,
               text_field: str = "text") -> Iterator[list[tuple[Any, Any]]]:
    """Batches of (Record, Prediction) or (BadLine, None) for FILE in input order, scored by `workers` actors.

    A batch ends after a BadLine, so the caller can write what came before it first.
    """
    from edgelstm.runtime.classifier import Prediction
    from edgelstm.runtime.inputs import BadLine, Record

    if workers < 1:
        raise ConfigError(f"--workers must be an integer >= 1 (Ray actors that score), got {workers}")
    _refuse_early(path, fmt, text_field, bundle=bundle, variant=variant, backend=backend, trusted_keys=trusted_keys)
    with ray_session(workers) as ray:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # output in input order
        context.enable_progress_bars = False  # stderr is for edgelstm's one-line errors
        # stderr is for edgelstm's own lines: a failure comes out as one RayJobError line (its cause
        # included), not as Ray Data's log of the same traceback from several places.
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        dataset = ray.data.read_datasource(_records_datasource(ray, path, fmt, text_field)).map_batches(
            _Scorer, fn_constructor_kwargs={"bundle": str(bundle), "variant": variant, "backend": backend,
                                            "trusted_keys": trusted_keys},
            batch_size=batch_size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                scored: list[tuple[Any, Any]] = []
                for index, kind in enumerate(batch["kind"]):
                    line = int(batch["line"][index])
                    if kind == BAD:
                        yield [*scored, (BadLine(line, str(batch["reason"][index])), None)]
                        scored = []
                        continue
                    record = Record(line, str(batch["text"][index]), json.loads(str(batch["id"][index])))
                    values = {name: _plain(batch[name][index]) for name in PREDICTION_COLUMNS}
                    values[PROBABILITIES] = tuple(json.loads(values[PROBABILITIES]))
                    scored.append((record, Prediction(**values)))
                yield scored
        except ray.exceptions.RayError as error:
            raise _edgelstm_error(error) or RayJobError(f"Ray could not score {path}: {_first_line(error)}") from None


def _refuse_early(path: str, fmt: str, text_field: str, *, bundle: str, variant: str | None, backend: str | None,
                  trusted_keys: tuple[str, ...] | None) -> None:
    """What one process refuses at once (a bad bundle or backend, a CSV header or Parquet schema
    without the text column), refused here in its words, before Ray starts."""
    from edgelstm.runtime.classifier import Classifier
    from edgelstm.runtime.inputs import read_records

    with Classifier.load(bundle, variant=variant, backend=backend, threads=1, trusted_keys=trusted_keys):
        pass
    with open(path, "rb") as stream:
        next(read_records(stream, fmt=fmt, name=path, text_field=text_field), None)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value a Prediction holds (str, int or float)."""
    return value.item() if hasattr(value, "item") else str(value)


def _edgelstm_error(error: BaseException) -> EdgeLSTMError | None:
    """The edgelstm error a Ray task or actor raised (a bad file, a bad bundle), as one process raises it."""
    import ray.exceptions

    seen: BaseException | None = error
    for _ in range(10):  # Ray nests the task's exception as .cause (or __cause__), sometimes twice
        seen = getattr(seen, "cause", None) or getattr(seen, "__cause__", None)
        if seen is None:
            return None
        if isinstance(seen, EdgeLSTMError) and not isinstance(seen, ray.exceptions.RayError):
            return type(seen)(*seen.args)
    return None


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line:
            return line[:300]
    return (lines[-1] if lines else type(error).__name__)[:300]
