"""Parse untrusted bytes into JSON values and numpy arrays, refusing what could hurt before it does.

Every file of a bundle and every line of `predict --input` goes through here, from
bytes already read (and, for a bundle, already checked against its sha256):

* JSON: integers of more than `MAX_INT_DIGITS` digits (Python refuses 4,300 with a
  bare ValueError, and slowly), NaN/Infinity (not JSON), invalid UTF-8 and nesting
  deeper than the parser's recursion limit become one clean error line.
* npz: every member's .npy header is read first; an object dtype (a pickle), a
  header version numpy does not write, or a declared shape larger than the bytes the
  member holds (the 80 GB shape that ends in MemoryError) is refused before any
  array is allocated. `expect` names each member's dtype kind and rank.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from edgelstm.core.errors import BundleError, EdgeLSTMError

MAX_INT_DIGITS = 32
NPY_VERSIONS = ((1, 0), (2, 0))
ErrorType = type[EdgeLSTMError]


class _Refused(ValueError):
    pass


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(digits)} digits (at most {MAX_INT_DIGITS} are accepted)")
    return int(digits)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:20]} overflows a float")
    return value


def _parse_constant(name: str) -> float:
    raise _Refused(f"{name}, which is not JSON")


def parse_json(data: bytes | str, what: str, *, error: ErrorType = BundleError) -> Any:
    """The JSON value in `data`, or `error` naming `what` and the problem, in one line."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as problem:
            raise error(f"{what} is not UTF-8 ({problem.reason} at byte {problem.start})") from None
    try:
        return json.loads(data, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except _Refused as problem:
        raise error(f"{what} holds {problem}") from None
    except json.JSONDecodeError as problem:
        raise error(f"{what} is not JSON ({problem.msg} at line {problem.lineno} column {problem.colno})") from None
    except RecursionError:
        raise error(f"{what} nests arrays or objects deeper than can be parsed") from None


# member name -> (accepted dtype kinds, e.g. "iu" or "f", and rank)
Expect = dict[str, tuple[str, int]]


def load_npz(data: bytes, what: str, *, expect: Expect | None = None, required: tuple[str, ...] = (),
             error: ErrorType = BundleError) -> dict[str, np.ndarray]:
    """Arrays of an .npz file's bytes, each header checked before its array is read."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError) as problem:
        raise error(f"{what} is not an npz archive ({problem})") from None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for info in archive.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else None
            if not key or key in arrays:
                raise error(f"{what} holds {info.filename!r}, which is not one .npy array")
            arrays[key] = _read_member(archive, info, f"{what} member {key!r}", error)
    missing = [name for name in required if name not in arrays]
    if missing:
        names = [repr(name) for name in required]
        raise error(f"{what} lacks the array {missing[0]!r}: it must hold "
                    f"{', '.join(names[:-1]) + ' and ' if len(names) > 1 else ''}{names[-1]}")
    for key, (kinds, rank) in (expect or {}).items():
        if key in arrays:
            _check_array(arrays[key], kinds, rank, f"{what} member {key!r}", error)
    return arrays


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, error: ErrorType) -> np.ndarray:
    try:
        with archive.open(info) as member:
            shape, dtype = _header(member, what, error)
            needed = math.prod(shape) * dtype.itemsize
            if needed > info.file_size:
                raise error(f"{what} declares shape {list(shape)} ({needed:,} bytes) but holds {info.file_size:,}")
        with archive.open(info) as member:
            return np.lib.format.read_array(member, allow_pickle=False)
    except EdgeLSTMError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError) as problem:
        raise error(f"{what} cannot be read ({type(problem).__name__}: {problem})") from None


def _header(member: Any, what: str, error: ErrorType) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    if version not in NPY_VERSIONS:
        raise error(f"{what} has .npy format {version}; accepted are {NPY_VERSIONS}")
    reader: Callable = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
    shape, _, dtype = reader(member)
    if dtype.hasobject:
        raise error(f"{what} holds Python objects (a pickle), which are never loaded; accepted are numeric "
                    "and string arrays")
    return shape, dtype


def _check_array(array: np.ndarray, kinds: str, rank: int, what: str, error: ErrorType) -> None:
    if array.dtype.kind not in kinds or array.ndim != rank:
        raise error(f"{what} is {array.dtype} with shape {list(array.shape)}; expected rank {rank} of kind "
                    f"{_kind_names(kinds)}")


def _kind_names(kinds: str) -> str:
    names = {"i": "signed int", "u": "unsigned int", "f": "float", "b": "bool", "U": "str"}
    return " or ".join(names.get(kind, kind) for kind in kinds)
