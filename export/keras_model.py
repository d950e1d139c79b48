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

from edgelstm.core.errors import ExportError

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


def stateful_twin(model: Any, *, batch_size: int | None) -> Any:
    """The same weights in a model with inputs [ids [b, None], h0 [b, H], c0 [b, H]] (the fast path).

    A dynamic length and an initial state let the runtime start a short, front-padded text
    from the precomputed state after its padding and run only its real tokens; with a zero
    state and maxlen ids it is exactly the padded model.
    """
    keras = import_keras()
    embedding, lstm, dense = layers_of(model)
    units = int(lstm.units)
    ids = keras.Input((None,), batch_size=batch_size, dtype="int32", name="ids")
    h0 = keras.Input((units,), batch_size=batch_size, dtype="float32", name="h0")
    c0 = keras.Input((units,), batch_size=batch_size, dtype="float32", name="c0")
    twin_embedding = keras.layers.Embedding(int(embedding.input_dim), int(embedding.output_dim))
    twin_lstm = keras.layers.LSTM(units, use_bias=bool(lstm.use_bias))
    twin_dense = keras.layers.Dense(1, activation="sigmoid")
    out = twin_dense(twin_lstm(twin_embedding(ids), initial_state=[h0, c0]))
    twin = keras.Model([ids, h0, c0], out)
    for source, target in ((embedding, twin_embedding), (lstm, twin_lstm), (dense, twin_dense)):
        target.set_weights(source.get_weights())
    return twin


def padding_states(model: Any, maxlen: int, padding_id: int = 0) -> dict[str, np.ndarray]:
    """h and c [maxlen + 1, H] after k = 0..maxlen padding tokens from the zero state, by Keras' own cell.

    The same for every text, so export computes them once and the runtime looks them up.
    """
    import tensorflow as tf

    embedding, lstm, _ = layers_of(model)
    units = int(lstm.units)
    x = tf.constant(embedding.get_weights()[0][padding_id:padding_id + 1], tf.float32)
    h, c = tf.zeros((1, units)), tf.zeros((1, units))
    hs, cs = [h.numpy()[0]], [c.numpy()[0]]
    for _ in range(maxlen):
        _, (h, c) = lstm.cell(x, [h, c], training=False)
        hs.append(np.asarray(h)[0])
        cs.append(np.asarray(c)[0])
    return {"h": np.stack(hs).astype(np.float32), "c": np.stack(cs).astype(np.float32)}
