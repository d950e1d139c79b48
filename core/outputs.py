"""What a model's output means and how it becomes a label: the kinds of the manifest's `task.output`."""

from __future__ import annotations

SIGMOID = "sigmoid"  # one output per text, the probability of label 1 (two labels)
SOFTMAX = "softmax"  # one probability per label; the label is the highest
OUTPUT_KINDS = (SIGMOID, SOFTMAX)
# Schema 1 wrote this sentence where schema 2 writes SIGMOID.
SCHEMA1_OUTPUT = "sigmoid probability of label 1"
# A sigmoid output's label is 1 at or above this: the argmax of (1 - p, p), a tie going to label 1.
LABEL_THRESHOLD = 0.5
# The most labels a classifier may have: label ids are stored as int8 (-1 = a row without a label)
# in run directories and bundles; more distinct values in a label column are almost always a
# mistake anyway (scores, ids, free text in the wrong column).
MAX_LABELS = 127


def labels_of_width(width: int) -> int:
    """How many labels a head with `width` outputs classifies: Dense(1, sigmoid) two, Dense(C) C."""
    return max(2, width)


def output_kind(labels: int) -> str:
    """The head a model with `labels` classes has: two keep the sigmoid, more get a softmax."""
    return SIGMOID if labels == 2 else SOFTMAX


def as_scores(raw):  # noqa: ANN001, ANN201 - numpy in and out, imported lazily (core stays light)
    """A model's raw output [n, width] (or [n]) -> what edgelstm calls its probabilities.

    Two labels: float32 [n], the probability of label 1, whatever the head wrote (a sigmoid's one
    column, the mobile variants' or a two-way softmax's (p0, p1): the last column either way).
    C >= 3 labels: float32 [n, C], one probability per label, in the order of `task.labels`.
    """
    import numpy as np

    values = np.asarray(raw, dtype=np.float32)
    if values.ndim <= 1:
        return values.reshape(-1)
    values = values.reshape(len(values), -1)
    return values[:, -1].copy() if values.shape[1] <= 2 else values


def predicted_labels(probs):  # noqa: ANN001, ANN201 - numpy in and out
    """Label ids [n] from probabilities: [n] (label 1 at or above LABEL_THRESHOLD) or [n, C] (the argmax,
    a tie going to the lower label, as numpy's argmax does)."""
    import numpy as np

    values = np.asarray(probs)
    if values.ndim == 2:
        return np.argmax(values, axis=1).astype(np.int64)
    return (values.reshape(-1) >= LABEL_THRESHOLD).astype(np.int64)


def label_columns(probs):  # noqa: ANN001, ANN201 - numpy in and out
    """Every label's probability [n, C]: (1 - p, p) for a two-label [n], the rows themselves for [n, C]."""
    import numpy as np

    values = np.asarray(probs, dtype=np.float32)
    if values.ndim == 2:
        return values
    values = values.reshape(-1)
    return np.stack([1.0 - values, values], axis=1)


def scores_shape(rows: int, width: int) -> tuple[int, ...]:
    """The shape `as_scores` gives `rows` outputs of a model whose output has `width` columns."""
    return (rows,) if width <= 2 else (rows, width)
