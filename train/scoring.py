"""Probabilities and the scores computed from them, shared by training and evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np

PREDICT_BATCH = 256  # inference only: larger batches are faster and use little memory at this size


def predict_probabilities(model: Any, ids: np.ndarray) -> np.ndarray:
    """Sigmoid outputs [n] as float32."""
    return np.asarray(model.predict(ids, batch_size=PREDICT_BATCH, verbose=0), dtype=np.float32).reshape(-1)


def binary_scores(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy at 0.5 and binary cross-entropy (with Keras' 1e-7 clipping) against 0/1 labels."""
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    y = labels.astype(np.float64)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    accuracy = np.mean((probabilities >= 0.5) == (labels == 1))
    return {"accuracy": float(accuracy), "loss": float(loss)}


def confusion_matrix(probabilities: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    """[[true 0 predicted 0, true 0 predicted 1], [true 1 predicted 0, true 1 predicted 1]]."""
    predicted = (probabilities >= 0.5).astype(np.int64)
    return [[int(np.sum((labels == t) & (predicted == p))) for p in (0, 1)] for t in (0, 1)]
