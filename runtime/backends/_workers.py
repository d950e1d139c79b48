"""Row-level parallelism shared by the backends: independent work units of one batch at the same time.

`threads=N` means N workers across the rows of a batch, each interpreter on one intra-op
thread (why: runtime/tuning.py). A unit is a row or a length group; units share no state
and each runs exactly as it would alone, so results equal those of one worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

Unit = TypeVar("Unit")


class RowWorkers:
    """N workers for one backend: the calling thread plus a pool of N - 1; `close()` shuts it down."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))
        # The caller is worker 0, so one worker needs no pool and nothing changes (nor imports
        # concurrent.futures: start-up time).
        self._executor = None
        if self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="edgelstm-row")

    def run(self, work: Callable[[int, Unit], None], units: Sequence[Unit]) -> None:
        """work(slot, unit) for every unit; worker `slot` takes units slot, slot + N, ... one after another.

        Interleaving balances the workers when units come sorted by length (cost). A batch of
        one unit (batch 1) runs on the calling thread. Returns when every worker is done,
        even if one failed, so no worker still writes when the caller moves on.
        """
        if self._executor is None or len(units) == 1:  # batch 1 pays nothing for the pool
            for unit in units:
                work(0, unit)
            return
        shares = min(self.workers, len(units))

        def run_share(slot: int) -> None:
            for unit in units[slot::shares]:
                work(slot, unit)

        from concurrent.futures import wait

        futures: list[Future] = [self._executor.submit(run_share, slot) for slot in range(1, shares)]
        try:
            run_share(0)
        finally:
            wait(futures)
        for future in futures:
            future.result()  # re-raise a worker's error

    def close(self) -> None:
        """Shut the pool down, waiting for work in flight."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
