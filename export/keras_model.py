"""The trained Keras 3 model: load it, check it is the three-layer classifier, read its weights.

Runs inside the export subprocesses only: importing this module costs nothing,
each function imports Keras itself.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.runtime.errors import ExportError

# Layers with no effect at inference that may sit between the three weighted ones.
PASS_THROUGH = ("InputLayer", "Dropout", "SpatialDropout1D")
EXPECTED = "Embedding -> LSTM -> Dense(1, sigmoid)"


@dataclass(frozen=True)
class Architecture:
    vocab_size: int
    embedding_dim: int
    lstm_units: int
    maxlen: int
    use_bias: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_keras() -> Any:
    # Quiet TensorFlow's C++ start-up notices; the subprocess log keeps real errors.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def load_model(path: Path) -> Any:
    keras = import_keras()
    return keras.saving.load_model(path, compile=False)


def layers_of(model: Any) -> tuple[Any, Any, Any]:
    """The Embedding, LSTM and Dense layers, or an error naming what the model holds instead."""
    kept = [layer for layer in model.layers if type(layer).__name__ not in PASS_THROUGH]
    kinds = [type(layer).__name__ for layer in kept]
    if kinds != ["Embedding", "LSTM", "Dense"]:
        raise ExportError(f"the model's layers are {' -> '.join(kinds) or 'none'}: export converts exactly "
                          f"{EXPECTED} (the model `edgelstm train` builds)")
    embedding, lstm, dense = kept
    _check_config(embedding, mask_zero=False)
    _check_config(lstm, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                  activation="tanh", recurrent_activation="sigmoid")
    _check_config(dense, units=1, activation="sigmoid")
    return embedding, lstm, dense


def _check_config(layer: Any, **expected: Any) -> None:
    config = layer.get_config()
    wrong = {key: config.get(key) for key, value in expected.items() if config.get(key, value) != value}
    if wrong:
        found = ", ".join(f"{key}={value!r}" for key, value in wrong.items())
        wanted = ", ".join(f"{key}={expected[key]!r}" for key in wrong)
        raise ExportError(f"layer {layer.name} has {found}; export supports {wanted} ({EXPECTED})")


def architecture(model: Any) -> Architecture:
    embedding, lstm, _ = layers_of(model)
    maxlen = model.inputs[0].shape[1]
    if maxlen is None:
        raise ExportError("the model's input has no fixed sequence length: export needs [batch, maxlen] int ids")
    return Architecture(vocab_size=int(embedding.input_dim), embedding_dim=int(embedding.output_dim),
                        lstm_units=int(lstm.units), maxlen=int(maxlen), use_bias=bool(lstm.use_bias))


def numpy_weights(model: Any) -> dict[str, np.ndarray]:
    """weights.npz's arrays (docs/contracts.md): float32, LSTM gates in Keras order i, f, c, o."""
    embedding, lstm, dense = layers_of(model)
    lstm_weights = lstm.get_weights()
    units = int(lstm.units)
    bias = lstm_weights[2] if lstm.use_bias else np.zeros(4 * units, np.float32)
    dense_kernel, dense_bias = dense.get_weights()
    arrays = {"embedding": embedding.get_weights()[0], "lstm_kernel": lstm_weights[0],
              "lstm_recurrent_kernel": lstm_weights[1], "lstm_bias": bias,
              "dense_kernel": dense_kernel, "dense_bias": dense_bias}
    return {name: np.asarray(value, dtype=np.float32) for name, value in arrays.items()}


def predict(model: Any, ids: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """The reference probabilities [n], float32."""
    return np.asarray(model.predict(ids, batch_size=batch_size, verbose=0), np.float32).reshape(-1)
