"""Read a bundle's files as one folder of regular files, and nothing else.

A name must be a plain file name; the path must not be a symlink, a folder, a FIFO
or a device: each is refused before a byte is read (`O_NOFOLLOW` closes the race
between checking and opening, `O_NONBLOCK` keeps a FIFO from blocking the open).
Sizes are bounded by what the caller expects, so a file that grew is refused
without reading it whole.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from edgelstm.core.errors import BundleError

_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20
MAX_NAME_CHARS = 255


def check_name(root: Path, name: object, listed_in: str) -> str:
    """`name` if it is a plain file name inside the bundle, else a BundleError."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        shown = repr(name) if not isinstance(name, str) else f"a name of {len(name)} characters"
        raise BundleError(f"{listed_in} of bundle {root} lists {shown[:80]}: file names are 1 to "
                          f"{MAX_NAME_CHARS} characters")
    if Path(name).name != name or name in (".", "..") or "\0" in name:
        raise BundleError(f"{listed_in} of bundle {root} lists {name!r}, which is not a plain file name in the bundle")
    return name


def _open(root: Path, name: str, *, missing_ok: bool = False) -> int | None:
    path = root / name
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise BundleError(f"bundle {root} is incomplete: {name} is missing") from None
    except OSError as error:
        raise BundleError(f"cannot read bundle file {name}: {error.strerror}") from None
    _refuse_irregular(root, name, info.st_mode)
    try:
        descriptor = os.open(path, _FLAGS)
    except OSError as error:  # ELOOP: it became a symlink after the check
        raise BundleError(f"cannot open bundle file {name} of {root} as a regular file: {error.strerror}") from None
    try:
        _refuse_irregular(root, name, os.fstat(descriptor).st_mode)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _refuse_irregular(root: Path, name: str, mode: int) -> None:
    if stat.S_ISLNK(mode):
        raise BundleError(f"bundle file {name} of {root} is a symlink: a bundle is one folder of regular "
                          "files; refused before reading it")
    if not stat.S_ISREG(mode):
        raise BundleError(f"bundle file {name} of {root} is not a regular file (a folder, FIFO or device): refused")


def read_regular(root: Path, name: str, *, limit: int, missing_ok: bool = False) -> bytes | None:
    """The bytes of `name`, at most `limit` of them (more is a BundleError); None if missing and allowed."""
    descriptor = _open(root, name, missing_ok=missing_ok)
    if descriptor is None:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise BundleError(f"bundle file {name} of {root} is larger than {limit:,} bytes: refused")
    return data


def sha256_regular(root: Path, name: str, size: int) -> str:
    """sha256 of `name`, streamed, after checking it holds exactly `size` bytes."""
    descriptor = _open(root, name)
    digest = hashlib.sha256()
    with os.fdopen(descriptor, "rb") as handle:
        actual = os.fstat(handle.fileno()).st_size
        if actual != size:
            raise BundleError(f"bundle file {name} has {actual} bytes, the manifest says {size}: "
                              "the file is truncated or was replaced; re-export the bundle")
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
