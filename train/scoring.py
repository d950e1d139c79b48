"""Probabilities and the scores computed from them, shared by training and evaluation.

Probabilities are what edgelstm calls a model's output everywhere (`edgelstm.core.outputs`):
float32 [n], the probability of label 1, for two labels; float32 [n, C] for C >= 3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgelstm.core.outputs import as_scores, label_columns, predicted_labels

PREDICT_BATCH = 256  # inference only: larger batches are faster and use little memory at this size
# Keras clips probabilities to [1e-7, 1 - 1e-7] before its cross-entropies; so do the scores here.
CLIP = 1e-7


def predict_probabilities(model: Any, ids: np.ndarray) -> np.ndarray:
    """The model's probabilities as float32: [n] (sigmoid, label 1) or [n, C] (softmax)."""
    return as_scores(model.predict(ids, batch_size=PREDICT_BATCH, verbose=0))


def label_scores(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy and cross-entropy (binary for [n], categorical for [n, C], both with Keras' clipping)."""
    y = labels.astype(np.int64)
    p = np.clip(probabilities.astype(np.float64), CLIP, 1 - CLIP)
    if p.ndim == 1:
        loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    else:
        loss = -np.mean(np.log(p[np.arange(len(y)), y]))
    accuracy = np.mean(predicted_labels(probabilities) == y)
    return {"accuracy": float(accuracy), "loss": float(loss)}


def confusion_matrix(probabilities: np.ndarray, labels: np.ndarray, classes: int | None = None) -> list[list[int]]:
    """matrix[true][predicted] counts, C x C (two labels: [[0 as 0, 0 as 1], [1 as 0, 1 as 1]])."""
    classes = classes or label_columns(probabilities).shape[1]
    predicted = predicted_labels(probabilities)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted), 1)
    return matrix.tolist()


def per_class(matrix: list[list[int]], names: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each label from a confusion matrix (rows true).

    A ratio with nothing to divide by (a class never predicted, or absent from the data) is None
    in JSON, shown as '-': 0 would claim a measured failure.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    rows = []
    for index, name in enumerate(names):
        hit, predicted, actual = counts[index, index], counts[:, index].sum(), counts[index, :].sum()
        precision = float(hit / predicted) if predicted else None
        recall = float(hit / actual) if actual else None
        if precision is None or recall is None:
            f1 = None
        else:
            f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        rows.append({"label": name, "precision": precision, "recall": recall, "f1": f1, "support": int(actual)})
    return rows


def macro_f1(rows: list[dict[str, Any]]) -> float | None:
    """The mean F1 over the labels that have one (each label counts the same, whatever its size)."""
    values = [row["f1"] for row in rows if row["f1"] is not None]
    return float(np.mean(values)) if values else None


def scores(probabilities: np.ndarray, labels: np.ndarray, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Accuracy, cross-entropy, per-label precision/recall/F1/support, their macro F1, and the
    confusion matrix (rows true, columns predicted, in label order)."""
    matrix = confusion_matrix(probabilities, labels, len(names))
    rows = per_class(matrix, names)
    return {**label_scores(probabilities, labels), "labels": list(names), "per_class": rows,
            "macro_f1": macro_f1(rows), "confusion_matrix": matrix}
