"""Timing loops and the summary figures every latency block reports."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

# Samples kept in results.json per phase for the distribution plots; the
# summary figures always use every sample.
MAX_KEPT_SAMPLES = 2000


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of an already sorted list."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarize(samples_s: list[float], *, stopped_by: str | None = None) -> dict[str, Any]:
    """Latency figures in milliseconds from per-call durations in seconds."""
    values = sorted(1000.0 * s for s in samples_s)
    n = len(values)
    mean = sum(values) / n if n else math.nan
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {
        "runs": n,
        "mean_ms": mean,
        "std_ms": std,
        "p50_ms": percentile(values, 50),
        "p90_ms": percentile(values, 90),
        "p99_ms": percentile(values, 99),
        "min_ms": values[0] if n else math.nan,
        "max_ms": values[-1] if n else math.nan,
        "stopped_by": stopped_by,
        # in call order, not sorted: drift over time stays visible
        "samples_ms": [round(1000.0 * s, 6) for s in samples_s[:MAX_KEPT_SAMPLES]],
    }


def timed_calls(call: Callable[[int], object], *, warmup: int, runs: int, seconds: float,
                on_progress: Callable[[int, int], None] | None = None) -> tuple[list[float], str]:
    """Call `call(i)` `warmup` times untimed, then until `runs` calls or `seconds` have passed.

    Returns the per-call durations in seconds and what stopped the loop
    ("runs" or "seconds"). At least one timed call always happens.
    """
    for i in range(warmup):
        call(i)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    stopped_by = "runs"
    for i in range(runs):
        start = time.perf_counter()
        call(warmup + i)
        end = time.perf_counter()
        samples.append(end - start)
        if on_progress is not None:
            on_progress(i + 1, runs)
        if end >= deadline and i + 1 < runs:
            stopped_by = "seconds"
            break
    return samples, stopped_by


# Rounds of interleaved phases: enough that a burst of load on a shared machine lands in all of them.
INTERLEAVE_ROUNDS = 6


def interleaved_calls(calls: dict[str, Callable[[int], object]], *, warmup: int, runs: int, seconds: float,
                      rounds: int = INTERLEAVE_ROUNDS,
                      on_progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, Any]]:
    """Time several ways of doing the same work in alternating rounds, for ratios between them.

    The `runs` calls of each way are split over the rounds (at most `seconds` per way in all), so a
    change of load on a shared machine hits every way alike instead of whichever ran then.
    `call(i)` gets a counter per way that continues across rounds, so each way cycles its inputs
    in the same order. Each call is timed on the wall clock and on this process's CPU clock: on
    a busy machine the wall clock counts the time others had the core, the CPU clock does not.
    Returns {name: {"wall": [s], "cpu": [s], "stopped_by": "runs" | "seconds"}}.
    """
    for call in calls.values():
        for i in range(warmup):
            call(i)
    rounds = max(1, min(rounds, runs))
    shares = [runs // rounds + (1 if r < runs % rounds else 0) for r in range(rounds)]
    timed: dict[str, dict[str, Any]] = {name: {"wall": [], "cpu": [], "stopped_by": "runs"} for name in calls}
    total = runs * len(calls)
    for share in shares:
        for name, call in calls.items():
            record = timed[name]
            offset, deadline = warmup + len(record["wall"]), time.perf_counter() + seconds / rounds
            for i in range(share):
                wall, cpu = time.perf_counter(), time.process_time()
                call(offset + i)
                record["cpu"].append(time.process_time() - cpu)
                record["wall"].append(time.perf_counter() - wall)
                if time.perf_counter() >= deadline and i + 1 < share:
                    record["stopped_by"] = "seconds"
                    break
            if on_progress is not None:
                on_progress(sum(len(r["wall"]) for r in timed.values()), total)
    return timed


def summarize_interleaved(record: dict[str, Any]) -> dict[str, Any]:
    """`summarize` of the wall clock samples, plus the CPU clock's p50 and mean."""
    summary = summarize(record["wall"], stopped_by=record["stopped_by"])
    cpu = sorted(1000.0 * s for s in record["cpu"])
    summary["cpu_p50_ms"] = percentile(cpu, 50)
    summary["cpu_mean_ms"] = sum(cpu) / len(cpu) if cpu else math.nan
    return summary
