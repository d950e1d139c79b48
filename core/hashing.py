"""sha256 of files and bytes: how bundles, runs and data files are fingerprinted."""

from __future__ import annotations

import hashlib
from pathlib import Path

# Read in 1 MiB pieces: a model file never has to fit in memory twice.
_CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes already in memory (what an interpreter is about to parse)."""
    return hashlib.sha256(data).hexdigest()
