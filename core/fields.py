"""Strict readers for JSON objects from files we do not trust: each wrong value is a one-line error naming its field.

`Fields(data, "task")` wraps one JSON object; `fields.text("tokenizer")` returns the
value when it is a string and raises `error_class` ("manifest.json: task.tokenizer
must be a string, found int 3") when it is not. Nothing here lets a KeyError,
TypeError or AttributeError escape: a hostile file gets the same clear error as a
damaged one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from edgelstm.core.errors import EdgeLSTMError

T = TypeVar("T")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Long strings in an error message are cut: the message stays one readable line.
_SHOWN = 60
# No name, route or description of an edgelstm file comes near this; a longer string is hostile.
MAX_TEXT_CHARS = 4096


def clip(text: str) -> str:
    """`text` cut to _SHOWN characters (with "..."), so a message naming it stays one line."""
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def describe(value: Any) -> str:
    """'int 3', 'list of 2', 'null': what was found, short enough for one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"bool {value}"
    if isinstance(value, (int, float)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, str):
        return f"string {clip(value)!r}"
    if isinstance(value, (list, dict)):
        return f"{'list' if isinstance(value, list) else 'object'} of {len(value)}"
    return type(value).__name__


class Fields:
    """One JSON object at `where` (a dotted path) of `source` (the file's name, for messages)."""

    def __init__(self, data: Any, where: str, *, source: str, error: type[EdgeLSTMError]) -> None:
        self.source, self.where, self.error_class = source, where, error
        if not isinstance(data, dict):
            raise self._error(where or "the top level", "must be an object", data)
        self.data = data

    # --- plumbing --------------------------------------------------------------------------
    def path(self, key: str) -> str:
        key = clip(key)  # a hostile key keeps the message short
        return f"{self.where}.{key}" if self.where else key

    def _error(self, path: str, expected: str, value: Any) -> EdgeLSTMError:
        return self.error_class(f"{self.source}: {path} {expected}, found {describe(value)}")

    def fail(self, key: str, expected: str) -> EdgeLSTMError:
        """An error for `key` whose value breaks a rule only the caller knows."""
        return self._error(self.path(key), expected, self.data.get(key))

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def _get(self, key: str, optional: bool) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise self.error_class(f"{self.source}: {self.path(key)} is missing")
        return self.data[key]

    def _typed(self, key: str, optional: bool, check: Callable[[Any], bool], expected: str) -> Any:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not check(value):
            raise self._error(self.path(key), expected, value)
        return value

    # --- scalars ---------------------------------------------------------------------------
    def text(self, key: str, *, optional: bool = False, choices: Iterable[str] | None = None,
             nonempty: bool = True) -> Any:
        allowed = tuple(choices) if choices is not None else None
        expected = (f"must be one of {', '.join(allowed)}" if allowed else
                    f"must be a non-empty string of at most {MAX_TEXT_CHARS} characters" if nonempty else
                    f"must be a string of at most {MAX_TEXT_CHARS} characters")
        return self._typed(key, optional, lambda v: is_text(v, nonempty=nonempty) and (allowed is None or v in allowed),
                           expected)

    def integer(self, key: str, *, optional: bool = False, low: int | None = None, high: int | None = None) -> Any:
        bounds = f" in [{low}, {high}]" if low is not None and high is not None else \
            f" >= {low}" if low is not None else ""
        return self._typed(key, optional, lambda v: is_int(v) and (low is None or v >= low)
                           and (high is None or v <= high), f"must be an integer{bounds}")

    def number(self, key: str, *, optional: bool = False, low: float | None = None,
               high: float | None = None) -> Any:
        bounds = f" in [{low:g}, {high:g}]" if low is not None and high is not None else \
            f" >= {low:g}" if low is not None else ""
        value = self._typed(key, optional, lambda v: is_number(v) and (low is None or v >= low)
                            and (high is None or v <= high), f"must be a finite number{bounds}")
        return None if value is None else float(value)

    def boolean(self, key: str, *, optional: bool = False) -> Any:
        return self._typed(key, optional, lambda v: isinstance(v, bool), "must be true or false")

    def sha256(self, key: str) -> str:
        return self._typed(key, False, lambda v: isinstance(v, str) and bool(HEX64.match(v)),
                           "must be 64 lowercase hex digits (a sha256)")

    # --- containers ------------------------------------------------------------------------
    def obj(self, key: str, *, optional: bool = False) -> Fields | None:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        return Fields(value, self.path(key), source=self.source, error=self.error_class)

    def raw_object(self, key: str, *, optional: bool = False) -> Any:
        """A JSON object kept as a dict (free-form figures and settings), its keys checked to be strings."""
        return self._typed(key, optional, lambda v: isinstance(v, dict), "must be an object")

    def items(self, key: str) -> list[tuple[str, Fields]]:
        """(name, Fields) of an object whose every value is itself an object."""
        mapping = self.obj(key)
        assert mapping is not None
        return [(name, mapping.obj(name)) for name in mapping.data]  # type: ignore[misc]

    def text_list(self, key: str, *, optional: bool = False, min_length: int = 0, unique: bool = False) -> Any:
        def ok(v: Any) -> bool:
            return (isinstance(v, list) and len(v) >= min_length and all(is_text(x) for x in v)
                    and (not unique or len(set(v)) == len(v)))
        many = f"at least {min_length} " if min_length else ""
        return self._typed(key, optional, ok, f"must be a list of {many}{'distinct ' if unique else ''}"
                                              "non-empty strings")

    def text_map(self, key: str, *, optional: bool = False) -> Any:
        return self._typed(key, optional, lambda v: isinstance(v, dict)
                           and all(is_text(x, nonempty=False) for x in v.values()), "must be an object of strings")

    def int_map(self, key: str, *, optional: bool = False) -> Any:
        return self._typed(key, optional, lambda v: isinstance(v, dict) and all(is_int(x) for x in v.values()),
                           "must be an object of integers")


def is_text(value: Any, *, nonempty: bool = True) -> bool:
    return isinstance(value, str) and (bool(value) or not nonempty) and len(value) <= MAX_TEXT_CHARS


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)
