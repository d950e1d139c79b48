"""The fast path: skip a text's leading padding by starting from the state the padding leads to.

Texts are front-padded to maxlen with padding id 0, which has its own embedding,
so the state of a forward-reading stack after k padding steps from the zero state is
the same for every text, layer by layer. Export stores it once per bundle
(`padding_states.npz`: h and c [maxlen + 1, H], row k = after k padding steps; a GRU
has no c, a stack adds h_layer1, c_layer1, ...). A text with n real tokens then
starts from row maxlen - n and runs only its n tokens: the same arithmetic as
the padded model, minus the steps whose result is known in advance.

Batches group exactly: rows whose real lengths are at most m, each padded to m
and all started from row maxlen - m, give the padded model's results, because
the extra padding steps a shorter row runs reproduce the states it skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgelstm.core import family
from edgelstm.core.errors import BundleError
from edgelstm.runtime.safeload import load_npz

PADDING_STATES = "padding_states.npz"
PADDING_ID = 0
# The classic fast-path model's input names, as the manifest's `fast_path.inputs` keys them; a
# stack adds h0_layer1, c0_layer1, ... and a GRU has no c (core.family.state_role).
FAST_PATH_INPUTS = ("ids", "h0", "c0")
IDS_ROLE = family.IDS_ROLE
fast_path_roles = family.is_fast_path_inputs


@dataclass(frozen=True)
class PaddingStates:
    """Per state input (h0, c0, and h0_layer1, ... for a stack; core.family.state_role), the state
    float32 [maxlen + 1, H] after k padding tokens, k = 0..maxlen. The file names each table by
    `core.family.table_key` (h, c, h_layer1, ...); a GRU layer has no c."""

    tables: dict[str, np.ndarray]  # state role -> [maxlen + 1, H], in feeding order (layer by layer, h first)

    def __post_init__(self) -> None:
        # One row's start states for every step count, built once (maxlen + 1 small dicts of views):
        # a batch-1 call then makes no slices or dict of its own. Shared: interpreters only read inputs.
        rows = len(next(iter(self.tables.values())))
        object.__setattr__(self, "_one_row", [{role: table[k:k + 1] for role, table in self.tables.items()}
                                              for k in range(rows)])

    @property
    def h(self) -> np.ndarray:
        """The first layer's h table (the classic LSTM's `h`)."""
        return self.tables["h0"]

    @property
    def c(self) -> np.ndarray:
        """The first layer's c table (the classic LSTM's `c`); a GRU has none."""
        return self.tables["c0"]

    @property
    def maxlen(self) -> int:
        return len(self.h) - 1

    @property
    def units(self) -> int:
        """Width of the first layer's state (what the manifest calls lstm_units)."""
        return self.h.shape[1]

    @property
    def roles(self) -> list[str]:
        return list(self.tables)

    @classmethod
    def load(cls, source: str | Path | bytes) -> PaddingStates:
        if not isinstance(source, (bytes, bytearray)):
            try:
                source = Path(source).read_bytes()
            except OSError as error:
                raise BundleError(f"cannot read {PADDING_STATES}: {error.strerror}") from None
        arrays = load_npz(bytes(source), PADDING_STATES, required=("h",))
        roles = {key: family.role_of_table(key) for key in arrays}
        unknown = sorted(key for key, role in roles.items() if role is None)
        if unknown:
            raise BundleError(f"{PADDING_STATES} holds {', '.join(map(repr, unknown))}: its arrays are h, c, "
                              "h_layer1, c_layer1, ...; re-export the bundle")
        tables = {role: np.ascontiguousarray(arrays[key], dtype=np.float32) for key, role in roles.items()}
        steps = len(tables["h0"])
        for role, table in tables.items():
            if (arrays[family.table_key(role)].dtype.kind != "f" or table.ndim != 2 or len(table) != steps
                    or steps < 2 or table.shape[1] < 1 or not np.isfinite(table).all()):
                raise BundleError(f"{PADDING_STATES}: {family.table_key(role)} {list(table.shape)} must be finite "
                                  f"[maxlen + 1, H] with {steps} rows like h; re-export the bundle")
        return cls({role: tables[role] for role in family.ordered_roles(tables)})

    def start(self, steps: int, rows: int) -> dict[str, np.ndarray]:
        """State role -> initial state [rows, H] for rows that will run their last `steps` tokens.

        One row's dict is shared between calls (prebuilt): read it, do not modify it."""
        k = self.maxlen - steps
        if rows == 1:
            return self._one_row[k]  # type: ignore[attr-defined]
        return {role: np.repeat(table[k:k + 1], rows, axis=0) for role, table in self.tables.items()}


def steps_needed(ids: np.ndarray) -> np.ndarray:
    """Per row: tokens after the leading padding, at least 1.

    A row of only padding still needs one step (from the state after maxlen - 1 padding
    tokens) because a model cannot run zero steps; that step is the last padding token.
    """
    maxlen = ids.shape[1]
    real = ids != PADDING_ID
    first = np.where(real.any(axis=1), real.argmax(axis=1), maxlen)
    return np.maximum(maxlen - first, 1).astype(np.int64)


def steps_of_length(length: int) -> np.ndarray:
    """`steps_from_lengths` of one row's length, [max(length, 1)] int64, without array arithmetic."""
    return np.array([max(length, 1)], dtype=np.int64)


def steps_from_lengths(lengths: np.ndarray) -> np.ndarray:
    """`steps_needed` of front-padded rows from their real lengths, without reading the ids.

    The same because no token id is the padding id (0): a row of n real tokens starts its
    tokens at maxlen - n, and an empty row still needs its one step.
    """
    return np.maximum(lengths, 1).astype(np.int64)


def plan_groups(steps: np.ndarray, max_rows: int, *, call_us: float, step_us: float,
                row_step_us: float) -> list[np.ndarray]:
    """Rows sorted by length and cut where the cost model says it pays: each group runs at its
    longest length, so a group trades per-call and per-step overhead against padded work.

    Cost of a group of r rows whose longest needs m steps: call_us + m * (step_us + row_step_us * r);
    the cuts minimise the sum (dynamic programming over the sorted lengths, groups <= max_rows).
    """
    order = np.argsort(steps, kind="stable")
    lengths = steps[order].astype(np.float64)
    n = len(order)
    best = np.zeros(n + 1)
    cut = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        starts = np.arange(max(0, end - max_rows), end)
        costs = best[starts] + call_us + lengths[end - 1] * (step_us + row_step_us * (end - starts))
        pick = int(np.argmin(costs))
        best[end], cut[end] = costs[pick], starts[pick]
    bounds = []
    end = n
    while end > 0:
        bounds.append((int(cut[end]), end))
        end = int(cut[end])
    return [order[start:stop] for start, stop in reversed(bounds)]
