"""`edgelstm predict BUNDLE --input FILE --engine ray`: the same scoring on Ray Data, for a cluster.

Ray Data reads FILE as lines (`read_text`, every line kept, order preserved), and
`map_batches` sends batches of them to a pool of actors (`ActorPoolStrategy(size=N)`), each
holding one `Classifier` on one thread: the same parsing (edgelstm.runtime.cli_predict), the
same model calls, so the predictions equal the process pool's and one process's. Results
stream back in input order; Ray's streaming executor bounds what is in flight.

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

from edgelstm.core.errors import BackendUnavailableError, ConfigError, EdgeLSTMError, InputError

# Row kinds an actor returns: a blank line (skipped, as one process does), a prediction, an error.
SKIP, SCORED, FAILED = 0, 1, 2


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


class _Scorer:
    """A Ray Data actor: one Classifier, turning batches of raw lines into predictions."""

    def __init__(self, bundle: str, variant: str | None, backend: str | None, fmt: str,
                 trusted_keys: tuple[str, ...] | None, text_field: str = "text") -> None:
        from edgelstm.runtime.classifier import Classifier

        self.classifier = Classifier.load(bundle, variant=variant, backend=backend, threads=1,
                                          trusted_keys=trusted_keys)
        self.fmt = fmt
        self.text_field = text_field

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        rows = [self._parse(str(line)) for line in batch["text"]]
        texts = [text for kind, text, _ in rows if kind == SCORED]
        predictions = iter(self.classifier.predict(texts))
        out: dict[str, list] = {name: [] for name in ("kind", "text", "id", "label", "label_id", "probability",
                                                      "score", "tokens", "known_tokens", "error")}
        for kind, text, extra in rows:
            prediction = next(predictions) if kind == SCORED else None
            out["kind"].append(kind)
            out["text"].append(text if kind == SCORED else "")
            out["id"].append(json.dumps(extra) if kind == SCORED else "")
            out["error"].append(extra if kind == FAILED else "")
            out["label"].append(prediction.label if prediction else "")
            out["label_id"].append(prediction.label_id if prediction else -1)
            out["probability"].append(prediction.probability if prediction else 0.0)
            out["score"].append(prediction.score if prediction else 0.0)
            out["tokens"].append(prediction.tokens if prediction else 0)
            out["known_tokens"].append(prediction.known_tokens if prediction else 0)
        return out

    def _parse(self, line: str) -> tuple[int, str, Any]:
        from edgelstm.runtime.cli_predict import BadLine, _json_record

        line = line.rstrip("\r\n")
        if not line.strip():
            return SKIP, "", None
        if self.fmt != "jsonl":
            return SCORED, line, None
        # The actor does not know the line number: the parent, which counts lines, names it.
        record = _json_record(line, 0, self.text_field)
        if isinstance(record, BadLine):
            return FAILED, "", record.reason
        return SCORED, record.text, record.id


def detect_format(path: str, fmt: str) -> str:
    """"lines" or "jsonl" for the whole file, decided on its first non-blank line as one process does."""
    from edgelstm.runtime.cli_predict import Record, _looks_like_json_object, read_records

    if fmt != "auto":
        return fmt
    with open(path, "rb") as stream:
        first = next(read_records(stream, fmt="lines", name=path), None)
    return "jsonl" if isinstance(first, Record) and _looks_like_json_object(first.text) else "lines"


def score_file(path: str, *, bundle: str, variant: str | None, backend: str | None, fmt: str, workers: int,
               batch_size: int, trusted_keys: tuple[str, ...] | None = None,
               text_field: str = "text") -> Iterator[tuple[list, list]]:
    """(records, predictions) batches of FILE in input order, scored by `workers` Ray actors."""
    from edgelstm.runtime.classifier import Prediction
    from edgelstm.runtime.cli_predict import Record

    if workers < 1:
        raise ConfigError(f"--workers must be an integer >= 1 (Ray actors that score), got {workers}")
    fmt = detect_format(path, fmt)
    with ray_session(workers) as ray:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # output in input order
        context.enable_progress_bars = False  # stderr is for edgelstm's one-line errors
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        dataset = ray.data.read_text(os.path.abspath(path), drop_empty_lines=False).map_batches(
            _Scorer, fn_constructor_kwargs={"bundle": str(bundle), "variant": variant, "backend": backend, "fmt": fmt,
                                   "trusted_keys": trusted_keys, "text_field": text_field},
            batch_size=batch_size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)
        line = 0
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                records, predictions = [], []
                for index, kind in enumerate(batch["kind"]):
                    line += 1
                    if kind == FAILED:
                        if records:  # as one process does: what came before the bad line is printed
                            yield records, predictions
                        raise InputError(f"{path} line {line}: {batch['error'][index]}; the lines before it "
                                         "were classified")
                    if kind == SCORED:
                        records.append(Record(line, str(batch["text"][index]), json.loads(str(batch["id"][index]))))
                        predictions.append(Prediction(str(batch["label"][index]), int(batch["label_id"][index]),
                                                      float(batch["probability"][index]), float(batch["score"][index]),
                                                      int(batch["tokens"][index]), int(batch["known_tokens"][index])))
                yield records, predictions
        except ray.exceptions.RayError as error:
            raise RayJobError(f"Ray could not score {path}: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line:
            return line[:300]
    return (lines[-1] if lines else type(error).__name__)[:300]
