"""threads=N as row workers (runtime/tuning.py): the same bits as one worker, and a clean close."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from edgelstm.runtime import Bundle, Classifier, selection, tuning
from edgelstm.runtime.backends._workers import RowWorkers


def runnable_pairs(bundle_dir: Path) -> list[tuple[str, str]]:
    """(variant, backend) for every passed variant on every installed backend that runs it."""
    bundle = Bundle.open(bundle_dir)
    pairs = []
    for variant in bundle.variants:
        if selection.is_passed(bundle, variant):
            pairs += [(o.variant, o.backend) for o in selection.options(bundle, variant) if o.problem is None]
    return pairs


def golden_scores(bundle_dir: Path, variant: str, backend: str, threads: int, fast_path: bool) -> np.ndarray:
    ids = Bundle.open(bundle_dir).golden()["ids"]
    with Classifier.load(bundle_dir, variant=variant, backend=backend, threads=threads, fast_path=fast_path) as loaded:
        return loaded.predict_ids(ids)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "padded"])
def test_two_workers_give_the_bits_of_one_on_every_backend(tiny_bundle, fast_path) -> None:
    pairs = runnable_pairs(tiny_bundle)
    assert pairs, "no installed backend runs any variant of the tiny bundle"
    differ = []
    for variant, backend in pairs:
        one = golden_scores(tiny_bundle, variant, backend, 1, fast_path)
        two = golden_scores(tiny_bundle, variant, backend, 2, fast_path)
        if not np.array_equal(one, two):
            differ.append(f"{variant}/{backend}: max |diff| {np.abs(one - two).max():.3g}")
    assert not differ, "threads=2 differs from threads=1: " + "; ".join(differ)


def test_close_shuts_the_worker_pool_down(tiny_bundle) -> None:
    before = {thread.ident for thread in threading.enumerate()}
    for variant, backend in runnable_pairs(tiny_bundle):
        with Classifier.load(tiny_bundle, variant=variant, backend=backend, threads=2) as loaded:
            loaded.predict_ids(Bundle.open(tiny_bundle).golden()["ids"][:8])
    left = [t.name for t in threading.enumerate() if t.ident not in before and t.name.startswith("edgelstm-row")]
    assert not left, f"worker threads still alive after close(): {left}"


def test_workers_cover_every_unit_once_and_pass_errors_on() -> None:
    workers = RowWorkers(3)
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def record(slot: int, unit: int) -> None:
        with lock:
            seen.append((slot, unit))

    workers.run(record, range(10))
    assert sorted(unit for _, unit in seen) == list(range(10))
    assert all(unit % 3 == slot for slot, unit in seen)  # a slot's units belong to it alone

    def fail(slot: int, unit: int) -> None:
        if unit == 4:
            raise ValueError("unit 4")

    with pytest.raises(ValueError, match="unit 4"):
        workers.run(fail, range(10))
    workers.close()


def test_a_single_unit_runs_on_the_calling_thread() -> None:
    workers = RowWorkers(2)
    where: list[int | None] = []
    workers.run(lambda slot, unit: where.append(threading.get_ident()), [0])
    assert where == [threading.get_ident()]
    workers.close()


def test_threads_become_row_workers_and_none_takes_the_default() -> None:
    assert tuning.row_workers("onnxruntime", 2) == 2 and tuning.row_workers("numpy", 3) == 3
    assert tuning.row_workers("litert", None) == tuning.DEFAULT_THREADS
