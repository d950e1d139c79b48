"""Score a stream of text chunks on N worker processes, in input order, in bounded memory.

`edgelstm predict BUNDLE --input FILE --workers N` runs here. Why processes: tokenizing is
pure Python, so threads in one interpreter share one GIL and row workers (runtime/tuning.py)
only parallelise the model call; a process per core parallelises both. Each process loads
its own `Classifier` (one interpreter on one intra-op thread, BLAS on one thread), so its
results equal those of a single process bit for bit: the same code scores the same chunk.

Memory stays bounded: the parent reads one chunk at a time and keeps at most `window`
chunks between reading and writing (queued at a worker, being scored, or scored and waiting
for an earlier chunk), whatever the file's length. Each worker has its own pipe, so the
parent always knows which chunk a worker holds: when one dies, the job fails naming the
input lines (rows) it was scoring, and nothing after the last complete chunk is written.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from edgelstm.core import errors
from edgelstm.core.errors import ConfigError, EdgeLSTMError

# Chunks each worker holds at once: one being scored, one queued, so it never waits for the parent.
PER_WORKER = 2
# Chunks between reading and writing, per worker: a slow chunk lets the others run this far ahead.
WINDOW_PER_WORKER = 4
# Seconds a worker may take to load the bundle (checksums, interpreter) before the job gives up.
LOAD_TIMEOUT_S = 300.0
# Seconds a worker gets to exit after the last chunk before it is terminated.
EXIT_TIMEOUT_S = 10.0
# Every thread pool a worker's libraries may start, held to one thread (see runtime/tuning.py).
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class ScoringWorkerError(EdgeLSTMError):
    """A scoring worker process died or failed; the message names the rows it held."""

    exit_code = 1


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows of the input: what one worker scores in one call."""

    texts: list[str]
    first_row: int  # 1-based position among the input's texts
    lines: tuple[int | None, int | None] = (None, None)  # first and last input line, where known
    payload: Any = None  # what the caller needs to write the results (kept in the parent, never sent)

    def describe(self) -> str:
        rows = f"rows {self.first_row}-{self.first_row + len(self.texts) - 1}"
        first, last = self.lines
        return f"input lines {first}-{last} ({rows})" if first is not None else rows


@dataclass(frozen=True)
class PoolSpec:
    """What every worker loads: the same bundle, variant and backend."""

    bundle: str
    variant: str | None = None
    backend: str | None = None
    threads: int | None = None
    trusted_keys: tuple[str, ...] | None = None  # --key: every worker checks the same signature


@dataclass
class _Worker:
    index: int
    process: Any
    conn: Any
    held: deque = field(default_factory=deque)  # sequence numbers sent, oldest first


def check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers must be an integer >= 1 (processes that score), got {workers!r}")
    return workers


def score_chunks(spec: PoolSpec, chunks: Iterable[Chunk], workers: int, *,
                 on_ready: Callable[[str], None] | None = None) -> Iterator[tuple[Chunk, list]]:
    """(chunk, its Predictions) for every chunk, in input order, scored on `workers` processes.

    Every worker loads the bundle before the first chunk is read; a load error (bad bundle,
    missing backend) is raised as the error the worker hit. `on_ready` then gets
    "VARIANT on BACKEND" as the workers loaded it.
    """
    check_workers(workers)
    pool = _start(spec, workers)
    try:
        described = _await_ready(pool)
        if on_ready is not None:
            on_ready(described)
        yield from _dispatch(pool, iter(chunks), window=WINDOW_PER_WORKER * workers)
        _stop(pool)
    finally:
        _kill(pool)


# --- parent side --------------------------------------------------------------------------------

def _start(spec: PoolSpec, workers: int) -> list[_Worker]:
    # spawn, not fork: a forked child would inherit the parent's threads and interpreter state.
    context = multiprocessing.get_context("spawn")
    pool = []
    with _single_threaded_children():
        for index in range(workers):
            parent_end, child_end = context.Pipe(duplex=True)
            process = context.Process(target=_serve, args=(child_end, spec), daemon=True,
                                      name=f"edgelstm-score-{index + 1}")
            process.start()
            child_end.close()
            pool.append(_Worker(index + 1, process, parent_end))
    return pool


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Children inherit the environment at start: one BLAS/OpenMP thread each, unless the user chose."""
    added = [name for name in THREAD_ENV if name not in os.environ]
    os.environ.update({name: "1" for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _await_ready(pool: list[_Worker]) -> str:
    loaded = set()
    for worker in pool:
        if not worker.conn.poll(LOAD_TIMEOUT_S):
            raise ScoringWorkerError(f"scoring worker {worker.index} did not load the bundle within "
                                     f"{LOAD_TIMEOUT_S:.0f} s")
        message = _receive(worker, None)
        if message[0] == "error":
            raise _rebuild_error(message[2], message[3])
        loaded.add(message[1])
    if len(loaded) != 1:  # an `auto` choice that differs between processes would mix models
        raise ScoringWorkerError(f"scoring workers loaded different variants: {', '.join(sorted(loaded))}; "
                                 "name one with --variant and --backend")
    return loaded.pop()


def _dispatch(pool: list[_Worker], chunks: Iterator[Chunk], *, window: int) -> Iterator[tuple[Chunk, list]]:
    sent: dict[int, Chunk] = {}
    done: dict[int, list] = {}
    next_seq = next_out = 0
    exhausted = False
    while True:
        while not exhausted and next_seq - next_out < window:
            worker = min(pool, key=lambda w: len(w.held))
            if len(worker.held) >= PER_WORKER:
                break
            chunk = next(chunks, None)
            if chunk is None:
                exhausted = True
                break
            worker.held.append(next_seq)
            sent[next_seq] = chunk
            _send(worker, ("score", next_seq, chunk.texts))
            next_seq += 1
        if next_out == next_seq and exhausted:
            return
        _collect(pool, sent, done)
        while next_out in done:
            yield sent.pop(next_out), done.pop(next_out)
            next_out += 1


def _send(worker: _Worker, message: tuple) -> None:
    try:
        worker.conn.send(message)
    except OSError:
        # BrokenPipeError: the worker died. Not raised here (the CLI would take it for a closed
        # stdout): _collect reads what it finished first, then names the chunk it lost.
        pass


def _collect(pool: list[_Worker], sent: dict[int, Chunk], done: dict[int, list]) -> None:
    """Wait for at least one result (or a death) and file every result that arrived."""
    busy = [w for w in pool if w.held]
    by_handle = {w.conn: w for w in busy} | {w.process.sentinel: w for w in busy}
    for handle in multiprocessing.connection.wait(list(by_handle)):
        worker = by_handle[handle]
        if not worker.held:
            continue  # already handled through its other handle
        while worker.held and worker.conn.poll():
            message = _receive(worker, sent)
            seq = worker.held.popleft()
            if message[0] == "error":
                raise _chunk_error(worker, sent[seq], message)
            done[seq] = message[2]
        if worker.held and not worker.process.is_alive():
            raise _death(worker, sent[worker.held[0]])


def _receive(worker: _Worker, sent: dict[int, Chunk] | None) -> tuple:
    try:
        return worker.conn.recv()
    except (EOFError, OSError):
        worker.process.join(EXIT_TIMEOUT_S)
        if sent is None or not worker.held:
            raise ScoringWorkerError(f"scoring worker {worker.index} (pid {worker.process.pid}) "
                                     f"{_how_it_ended(worker.process.exitcode)} while loading the bundle") from None
        raise _death(worker, sent[worker.held[0]]) from None


def _death(worker: _Worker, chunk: Chunk) -> ScoringWorkerError:
    worker.process.join(EXIT_TIMEOUT_S)
    return ScoringWorkerError(f"scoring worker {worker.index} (pid {worker.process.pid}) "
                              f"{_how_it_ended(worker.process.exitcode)} while scoring {chunk.describe()}; "
                              f"output stops before row {chunk.first_row}")


def _how_it_ended(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _chunk_error(worker: _Worker, chunk: Chunk, message: tuple) -> EdgeLSTMError:
    _, _, kind, text = message
    error = _rebuild_error(kind, text)
    if isinstance(error, ScoringWorkerError):
        return ScoringWorkerError(f"scoring worker {worker.index} failed on {chunk.describe()}: {text}")
    return type(error)(f"{chunk.describe()}: {text}")


def _rebuild_error(kind: str, text: str) -> EdgeLSTMError:
    """The worker's error as the same edgelstm error class, so exit codes match one process."""
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, EdgeLSTMError):
        return cls(text)
    return ScoringWorkerError(f"{kind}: {text}")


def _stop(pool: list[_Worker]) -> None:
    for worker in pool:
        try:
            worker.conn.send(("stop",))
        except (BrokenPipeError, OSError):
            pass
    for worker in pool:
        worker.process.join(EXIT_TIMEOUT_S)


def _kill(pool: list[_Worker]) -> None:
    """Whatever happened, no worker outlives the job."""
    for worker in pool:
        if worker.process.is_alive():
            worker.process.terminate()
    for worker in pool:
        worker.process.join(EXIT_TIMEOUT_S)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.conn.close()


# --- worker side --------------------------------------------------------------------------------

def _serve(conn: Any, spec: PoolSpec) -> None:
    """A worker's life: load the classifier once, then score chunks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    from edgelstm.runtime.classifier import Classifier

    try:
        classifier = Classifier.load(spec.bundle, variant=spec.variant, backend=spec.backend,
                                     threads=spec.threads or 1, trusted_keys=spec.trusted_keys)
    except Exception as error:  # noqa: BLE001 - sent to the parent, which raises it
        conn.send(("error", None, type(error).__name__, str(error)))
        return
    with classifier:
        conn.send(("ready", f"{classifier.variant} on {classifier.backend_name}"))
        while (message := conn.recv())[0] == "score":
            _, seq, texts = message
            conn.send(_score(classifier, seq, texts))


def _score(classifier: Any, seq: int, texts: Sequence[str]) -> tuple:
    try:
        return ("ok", seq, classifier.predict(list(texts)))
    except Exception as error:  # noqa: BLE001 - sent to the parent with the chunk's rows
        return ("error", seq, type(error).__name__, str(error))
