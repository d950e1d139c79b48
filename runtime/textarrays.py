"""Raw texts inside .npz files without pickle: one UTF-8 byte array and the offsets between texts.

A numpy str array pads every text to the longest one in UTF-32 (a 13 000-character IMDB
review makes each of 5 000 rows 52 kB); the packed form costs the texts' own bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BYTES, OFFSETS = "texts_utf8", "text_offsets"  # core/rundir.py VALIDATION_TEXT_ARRAYS names them too


def pack(texts: Sequence[str], prefix: str = "") -> dict[str, np.ndarray]:
    """{prefix + BYTES: uint8 [total], prefix + OFFSETS: int64 [n + 1]} for np.savez."""
    encoded = [text.encode("utf-8") for text in texts]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    return {prefix + BYTES: np.frombuffer(b"".join(encoded), np.uint8).copy(), prefix + OFFSETS: offsets}


def unpack(arrays: dict[str, np.ndarray] | np.lib.npyio.NpzFile, prefix: str = "") -> list[str] | None:
    """The texts `pack` stored, or None when the arrays hold none."""
    if prefix + BYTES not in arrays or prefix + OFFSETS not in arrays:
        return None
    data, offsets = bytes(arrays[prefix + BYTES]), arrays[prefix + OFFSETS]
    return [data[int(start):int(end)].decode("utf-8") for start, end in zip(offsets[:-1], offsets[1:])]
