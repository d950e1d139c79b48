"""Map the label values found in a data set to 0/1 and name them.

The rule, in order:

1. Explicit names (`--label-names neg,pos`): numeric labels must be 0/1 and keep
   their value; text labels must be one of the two names (case-insensitive) and
   take its position.
2. Numeric labels (ints, integral floats, booleans, digit strings like "1"):
   0/1 keep their value and are named ``neg``/``pos`` (`NUMERIC_NAMES`); any other
   two numbers are ordered ascending (1/2 stars -> 0/1) and named by their value.
3. Text labels forming a recognised pair (`KNOWN_PAIRS`: neg/pos, negative/positive,
   false/true, no/yes, bad/good, ham/spam, case-insensitive) take the pair's order,
   the negative first; any other two names are sorted alphabetically.

The names are recorded in the run (`metrics.json` "labels"), label 0 first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgelstm.core.errors import DataError

NUMERIC_NAMES = ("neg", "pos")
KNOWN_PAIRS = (("neg", "pos"), ("negative", "positive"), ("false", "true"), ("no", "yes"),
               ("bad", "good"), ("ham", "spam"))


def label_key(value: Any, *, where: str) -> int | str:
    """A raw label as an int (numbers, booleans, digit strings) or a stripped string."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip():
        return _text_key(value.strip(), where)
    raise DataError(f"{where}: label {value!r} is not usable: labels are two distinct values, "
                    "numbers (0/1), booleans or names (e.g. neg/pos)")


def _text_key(text: str, where: str) -> int | str:
    try:
        number = float(text)
    except ValueError:
        return text
    if number.is_integer():
        return int(number)
    raise DataError(f"{where}: label {text!r} is not usable: labels are two distinct values, "
                    "whole numbers (0/1) or names (e.g. neg/pos), not scores")


def map_labels(keys: Sequence[int | str], *, names: tuple[str, str] | None = None,
               source: str) -> tuple[np.ndarray, tuple[str, str]]:
    """Keys from `label_key` -> (int8 labels 0/1, (name of 0, name of 1)), by the module's rule."""
    if not keys:
        raise DataError(f"{source} holds no examples: give a data set with labelled texts")
    distinct = list(dict.fromkeys(keys))
    if len(distinct) > 2:
        shown = ", ".join(repr(k) for k in sorted(distinct, key=str)[:6])
        more = ", ..." if len(distinct) > 6 else ""
        raise DataError(f"{source} has {len(distinct)} different labels ({shown}{more}): edgelstm trains a "
                        "two-class classifier; keep two labels or map them to 0/1 first")
    numeric = [k for k in distinct if isinstance(k, int)]
    if numeric and len(numeric) != len(distinct):
        raise DataError(f"{source} mixes numeric and text labels ({', '.join(repr(k) for k in distinct)}): "
                        "use 0/1 or two names throughout")
    if names is None and len(distinct) < 2:
        raise DataError(f"{source} has only one label ({distinct[0]!r}, {len(keys)} examples): a classifier "
                        "needs examples of both classes")
    order = _explicit_order(distinct, names, source) if names else _default_order(distinct)
    index = {key: position for position, key in enumerate(order) if key is not None}
    if names and keys and isinstance(keys[0], int) and order != [0, 1]:  # numeric labels matched by name
        keys = [str(k) for k in keys]
    labels = np.fromiter((index[k] for k in keys), dtype=np.int8, count=len(keys))
    return labels, names or _names(order)


def _explicit_order(distinct: list, names: tuple[str, str], source: str) -> list:
    folded = [n.casefold() for n in names]
    if isinstance(distinct[0], int):
        # By name first (a run trained on 1/5 stars is named "1", "5"), else 0/1 keep their value.
        if not {str(k) for k in distinct} <= set(folded):
            if not set(distinct) <= {0, 1}:
                raise DataError(f"{source} has numeric labels {sorted(distinct)}, which are not the label "
                                f"names {names[0]!r}, {names[1]!r}: give names that match, or labels 0/1")
            return [0, 1]
        distinct = [str(k) for k in distinct]
    order: list = [None, None]
    for key in distinct:
        if key.casefold() not in folded:
            raise DataError(f"{source} has the label {key!r}, which is not one of the label names "
                            f"{names[0]!r}, {names[1]!r}")
        order[folded.index(key.casefold())] = key
    return order


def _default_order(distinct: list) -> list:
    if isinstance(distinct[0], int):
        return [0, 1] if set(distinct) <= {0, 1} else sorted(distinct)
    folded = {k.casefold(): k for k in distinct}
    for pair in KNOWN_PAIRS:
        if set(folded) <= set(pair):
            return [folded.get(name) for name in pair]
    return sorted(distinct)


def _names(order: list) -> tuple[str, str]:
    if order == [0, 1]:
        return NUMERIC_NAMES
    return (str(order[0]), str(order[1]))
