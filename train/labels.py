"""Map the label values found in a data set to 0..C-1 and name them (C >= 2 classes).

The rule, in order (docs/multiclass.md):

1. Explicit names (`--label-names neg,pos` or `--label-names sports,tech,world`): label i is
   the i-th name. Text labels must be one of the names (case-insensitive) and take its
   position; numeric labels match a name by their value ("1", "5" stars), else they must be
   0..C-1 and keep their value.
2. Numeric labels (ints, integral floats, booleans, digit strings like "1"): ascending
   (1/2/3 stars -> 0/1/2). Exactly 0 and 1 are named ``neg``/``pos`` (`NUMERIC_NAMES`); any
   other numbers are named by their value.
3. Text labels: two forming a recognised pair (`KNOWN_PAIRS`: neg/pos, negative/positive,
   false/true, no/yes, bad/good, ham/spam, case-insensitive) take the pair's order, the
   negative first; any other names are sorted (Python's string order: by code point, so
   upper case before lower case).

Two classes train a sigmoid head, three or more a softmax head (`edgelstm.core.outputs`).
The names are recorded in the run (`metrics.json` "labels", label 0 first) and in the
bundle (`task.labels`), and `evaluate` maps a data file's labels onto them by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgelstm.core.errors import DataError
from edgelstm.core.outputs import MAX_LABELS

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
    raise DataError(f"{where}: label {value!r} is not usable: labels are whole numbers (0/1/2...), "
                    "booleans or names (e.g. neg/pos)")


def _text_key(text: str, where: str) -> int | str:
    try:
        number = float(text)
    except ValueError:
        return text
    if number.is_integer():
        return int(number)
    raise DataError(f"{where}: label {text!r} is not usable: labels are whole numbers (0/1/2...) "
                    "or names (e.g. neg/pos), not scores")


def map_labels(keys: Sequence[int | str], *, names: Sequence[str] | None = None,
               source: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Keys from `label_key` -> (int8 labels 0..C-1, (name of 0, name of 1, ...)), by the module's rule.

    With `names`, the data may hold only some of them (an evaluation file); without, it needs two or more.
    """
    if not keys:
        raise DataError(f"{source} holds no examples: give a data set with labelled texts")
    distinct = list(dict.fromkeys(keys))
    if len(distinct) > MAX_LABELS:
        shown = ", ".join(repr(k) for k in sorted(distinct, key=str)[:6])
        raise DataError(f"{source} has {len(distinct)} different labels ({shown}, ...): at most {MAX_LABELS} "
                        "classes are accepted; is the label column the right one (--label-column)?")
    numeric = [k for k in distinct if isinstance(k, int)]
    if numeric and len(numeric) != len(distinct):
        shown = ", ".join(repr(k) for k in distinct[:8])
        raise DataError(f"{source} mixes numeric and text labels ({shown}): use numbers or names throughout")
    if names is None and len(distinct) < 2:
        raise DataError(f"{source} has only one label ({distinct[0]!r}, {len(keys)} examples): a classifier "
                        "needs examples of at least two classes")
    order = _explicit_order(distinct, tuple(names), source) if names else _default_order(distinct)
    if names and isinstance(keys[0], int) and not _keeps_value(order):  # numeric labels matched by name
        keys = [str(k) for k in keys]
    index = {key: position for position, key in enumerate(order) if key is not None}
    labels = np.fromiter((index[k] for k in keys), dtype=np.int8, count=len(keys))
    return labels, tuple(names) if names else _names(order)


def _keeps_value(order: list) -> bool:
    return order == list(range(len(order)))


def _explicit_order(distinct: list, names: tuple[str, ...], source: str) -> list:
    folded = [n.casefold() for n in names]
    known = ", ".join(repr(n) for n in names)
    if isinstance(distinct[0], int):
        # By name first (a run trained on 1/5 stars is named "1", "5"), else 0..C-1 keep their value.
        if not {str(k) for k in distinct} <= set(folded):
            if not set(distinct) <= set(range(len(names))):
                raise DataError(f"{source} has numeric labels {sorted(distinct)[:8]}, which are not the label "
                                f"names {known}: give names that match, or labels 0..{len(names) - 1}")
            return list(range(len(names)))
        distinct = [str(k) for k in distinct]
    order: list = [None] * len(names)
    for key in distinct:
        if key.casefold() not in folded:
            raise DataError(f"{source} has the label {key!r}, which is not one of the label names {known}")
        order[folded.index(key.casefold())] = key
    return order


def _default_order(distinct: list) -> list:
    if isinstance(distinct[0], int):
        return sorted(distinct)
    folded = {k.casefold(): k for k in distinct}
    if len(distinct) == 2:
        for pair in KNOWN_PAIRS:
            if set(folded) <= set(pair):
                return [folded.get(name) for name in pair]
    return sorted(distinct)


def _names(order: list) -> tuple[str, ...]:
    if order == [0, 1]:
        return NUMERIC_NAMES
    return tuple(str(key) for key in order)
