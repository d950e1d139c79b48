"""A plain-text progress bar on stderr (no tqdm: the device install stays small).

On a terminal the bar redraws in place; in a log (CI, a pipe) it prints one
line when a row starts and one when it ends, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from edgelstm.benchmarks.protocol import PHASES

BAR_WIDTH = 20


class Progress:
    def __init__(self, total_rows: int, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = max(total_rows, 1)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.monotonic()
        self.row = 0
        self.label = ""
        self.width = 0

    def start_row(self, index: int, label: str) -> None:
        self.row, self.label = index, label
        if self.enabled and not self.live:
            self._print(f"[{index + 1}/{self.total}] {label} ...")
        self.update("load", 0, 1)

    def update(self, phase: str, done: int, total: int) -> None:
        """Redraw the bar: finished rows plus the current row's share of its phase."""
        if not self.live:
            return
        step = PHASES.index(phase) if phase in PHASES else 0
        within = (step + min(done / max(total, 1), 1.0)) / len(PHASES)
        fraction = (self.row + within) / self.total
        filled = int(round(fraction * BAR_WIDTH))
        line = (f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {self.row + 1}/{self.total} {self.label}: "
                f"{phase} {done}/{total}  {time.monotonic() - self.started:.0f}s")
        self.stream.write("\r" + line.ljust(self.width))
        self.width = len(line)
        self.stream.flush()

    def end_row(self, status: str) -> None:
        if not self.enabled:
            return
        if self.live:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        self._print(f"[{self.row + 1}/{self.total}] {self.label}: {status}")

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
