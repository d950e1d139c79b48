"""Warnings when a run's own figures contradict each other, and the machine load behind them.

A variant that runs every text through all maxlen steps (no fast path: a padded model,
the Keras baseline) does the same work for a real review as for a full-length one, so its
p50 over real texts cannot honestly exceed its full-length p50. When it does, another
process took the CPU during one phase: the latencies of that run are not to be trusted,
and the load average recorded with each row says how busy the machine was.
"""

from __future__ import annotations

import os
from typing import Any

# Real-text p50 this much above the full-length p50 of a padded row is a contradiction
# (the two phases differ by scheduling noise alone; 25 % is well above that noise).
PADDED_P50_SLACK = 1.25


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages (None where the OS has none)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def warnings_for(rows: list[dict[str, Any]], cores: int | None) -> list[str]:
    """One warning per padded row whose real-text p50 is above its full-length p50."""
    found = []
    for row in rows:
        # Padded: a bundle row that said it runs without the fast path, or the Keras model.
        padded = row.get("fast_path") is False or row.get("variant") == "keras"
        if row.get("status") != "ok" or not padded:
            continue
        real = (row.get("latency") or {}).get("real", {}).get("p50_ms")
        full = (row.get("latency") or {}).get("full", {}).get("p50_ms")
        if real is None or full is None or real <= full * PADDED_P50_SLACK:
            continue
        load = (row.get("load_average") or {}).get("after") or ["?"]
        found.append(f"{row['variant']} / {row['backend']}: p50 over real texts {real:.3g} ms is above its "
                     f"full-length p50 {full:.3g} ms, yet it runs all steps either way: the machine was busy "
                     f"(load average {load[0]} on {cores or '?'} cores); rerun on an idle machine before "
                     "trusting these latencies")
    return found
