"""Token-id rows as the tokenizer makes them, for the tests that feed a model ids directly."""

from __future__ import annotations

import numpy as np


def padded_in_front(rows: int, *, vocab: int, steps: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """`rows` rows of every padding length (0 to `steps`): padding (id 0) in front, then ids 1..vocab-1.

    Every length matters: the fast path skips k padding steps by a table, so each k is a case.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    ids = rng.integers(1, vocab, size=(rows, steps)).astype(np.int32)
    for row in range(rows):
        ids[row, : rng.integers(0, steps + 1)] = 0
    return ids
