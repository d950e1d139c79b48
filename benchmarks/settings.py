"""What one benchmark run measures: every default lives here, once.

The defaults are sized so six variants of the full-size model (0.2-0.6 ms per
sequence in onnxruntime, 11 ms in the slowest TFLite variant, full int8: see
benchmarks/README.md) finish in about a minute on a 2-core x86_64 machine: each timed phase stops at `runs` or at
`seconds`, whichever comes first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from edgelstm.core.errors import ConfigError

# Untimed calls before each timed phase: caches, lazy allocation, thread pools.
DEFAULT_WARMUP = 10
# Timed calls per phase at most...
DEFAULT_RUNS = 300
# ...and wall-clock seconds per phase at most, so a slow variant cannot stall the run.
DEFAULT_SECONDS = 2.0
# Throughput batch: what a server or a batch job would feed.
DEFAULT_BATCH_SIZE = 32
# One row worker by default: comparable across machines and backends, and what a
# single-stream device app gets; --threads 0 takes the runtime's default (runtime/tuning.py).
DEFAULT_THREADS = 1
# Labelled texts scored for accuracy: enough for a figure to 1-2 points, and it
# keeps the slowest variant (about 15 ms a sequence) under 30 s.
DEFAULT_MAX_EXAMPLES = 2000
# Distinct inputs cycled through by the latency loops.
LATENCY_INPUTS = 256
# Per-row safety net: a hung interpreter becomes an error row, not a hung run.
WORKER_TIMEOUT_S = 900.0
# Keras baseline rows (variant "keras"), measured in this order: what the tutorial
# calls, and the fastest way to call the same model inside TensorFlow.
KERAS_MODES = ("model.predict", "tf.function")


@dataclass
class BenchSettings:
    """The resolved settings of one run, written into results.json."""

    variants: list[str] = field(default_factory=list)  # empty: every variant of the bundle
    backends: list[str] = field(default_factory=list)  # empty: every installed backend
    warmup: int = DEFAULT_WARMUP
    runs: int = DEFAULT_RUNS
    seconds: float = DEFAULT_SECONDS
    batch_size: int = DEFAULT_BATCH_SIZE
    threads: int = DEFAULT_THREADS
    max_examples: int = DEFAULT_MAX_EXAMPLES
    keras: bool = True
    plots: bool = True
    browser: bool = True  # the web page's rows in headless Chromium, where it is installed

    def __post_init__(self) -> None:
        checks = {"--warmup": self.warmup >= 0, "--runs": self.runs >= 1, "--seconds": self.seconds > 0,
                  "--batch-size": self.batch_size >= 1, "--threads": self.threads >= 0,
                  "--max-examples": self.max_examples >= 0}
        for option, ok in checks.items():
            if not ok:
                raise ConfigError(f"{option} is out of range: warmup >= 0, runs >= 1, seconds > 0, "
                                  "batch size >= 1, threads >= 0 (0 = runtime default), max examples >= 0 (0 = all)")

    @property
    def interpreter_threads(self) -> int | None:
        """What backends are given: None lets the interpreter choose."""
        return self.threads or None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
