"""The NumPy backend against Keras itself: same weights, same probabilities within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.ids import padded_in_front

from edgelstm.core.errors import BundleError
from edgelstm.runtime.backends.numpy_lstm import WEIGHT_NAMES, NumpyLSTM, load_weights

VOCAB, EMBED, UNITS, STEPS = 40, 6, 8, 15


@pytest.fixture(scope="module")
def keras_model():
    """A tiny Embedding -> LSTM -> Dense(sigmoid) with weights scaled up so gates saturate differently."""
    keras = pytest.importorskip("keras", reason="keras is an export-time extra")
    keras.utils.set_random_seed(3)
    inputs = keras.Input((STEPS,), dtype="int32")
    hidden = keras.layers.LSTM(UNITS)(keras.layers.Embedding(VOCAB, EMBED)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.set_weights([2.5 * w for w in model.get_weights()])
    return model


def keras_weights(model) -> dict[str, np.ndarray]:
    return dict(zip(WEIGHT_NAMES, model.get_weights()))


@pytest.fixture(scope="module")
def random_weights() -> dict[str, np.ndarray]:
    """Weights without Keras, for the checks that also run on devices (no TensorFlow there)."""
    rng = np.random.default_rng(7)
    shapes = {"embedding": (VOCAB, EMBED), "lstm_kernel": (EMBED, 4 * UNITS), "lstm_recurrent_kernel": (UNITS, 4 * UNITS),
              "lstm_bias": (4 * UNITS,), "dense_kernel": (UNITS, 1), "dense_bias": (1,)}
    return {name: rng.normal(0, 0.8, shape).astype(np.float32) for name, shape in shapes.items()}


def reference_forward(w: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """The textbook equations, one row and one step at a time, in float64: slow and obviously right."""
    sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    out = []
    for row in ids:
        h, c = np.zeros(UNITS), np.zeros(UNITS)
        for token in row:
            z = w["embedding"][token] @ w["lstm_kernel"] + h @ w["lstm_recurrent_kernel"] + w["lstm_bias"]
            i, f, g, o = np.split(z.astype(np.float64), 4)  # Keras order i, f, c, o
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        out.append(sigmoid(h @ w["dense_kernel"][:, 0] + w["dense_bias"][0]))
    return np.array(out)


def test_numpy_forward_pass_matches_the_textbook_equations(random_weights) -> None:
    ids = mixed_ids(np.random.default_rng(2), 70)
    got = NumpyLSTM(random_weights).predict_ids(ids)
    np.testing.assert_allclose(got, reference_forward(random_weights, ids), atol=1e-5, rtol=0)


def mixed_ids(rng: np.random.Generator, rows: int) -> np.ndarray:
    return padded_in_front(rows, vocab=VOCAB, steps=STEPS, rng=rng)


def test_numpy_forward_pass_matches_keras(keras_model) -> None:
    rng = np.random.default_rng(0)
    ids = mixed_ids(rng, 50)
    expected = keras_model.predict(ids, verbose=0).reshape(-1)
    backend = NumpyLSTM(keras_weights(keras_model))
    got = backend.predict_ids(ids)
    assert got.dtype == np.float32 and got.shape == (50,)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert np.ptp(expected) > 0.1, "the test model should spread its outputs"


def test_rows_do_not_depend_on_their_batch(keras_model) -> None:
    """Batches share the padding shortcut; every row must still equal its own single-row run."""
    rng = np.random.default_rng(1)
    ids = mixed_ids(rng, 130)  # more than one internal chunk
    backend = NumpyLSTM(keras_weights(keras_model))
    together = backend.predict_ids(ids)
    alone = np.array([backend.predict_ids(ids[i:i + 1])[0] for i in range(len(ids))])
    np.testing.assert_allclose(together, alone, atol=1e-6, rtol=0)


def test_all_padding_and_empty_batches(keras_model) -> None:
    backend = NumpyLSTM(keras_weights(keras_model))
    padding = np.zeros((2, STEPS), dtype=np.int32)
    expected = keras_model.predict(padding, verbose=0).reshape(-1)
    np.testing.assert_allclose(backend.predict_ids(padding), expected, atol=1e-5, rtol=0)
    assert backend.predict_ids(np.zeros((0, STEPS), dtype=np.int32)).shape == (0,)


def test_weights_npz_round_trip_and_shape_checks(random_weights, tmp_path) -> None:
    weights = random_weights
    np.savez(tmp_path / "weights.npz", **weights)
    loaded = load_weights(tmp_path / "weights.npz")
    assert all(np.array_equal(loaded[name], weights[name]) for name in WEIGHT_NAMES)
    bad = dict(weights, lstm_bias=weights["lstm_bias"][:-1])
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(BundleError, match="lstm_bias has shape"):
        load_weights(tmp_path / "bad.npz")
    np.savez(tmp_path / "missing.npz", **{k: v for k, v in weights.items() if k != "dense_bias"})
    with pytest.raises(BundleError, match="lacks the array 'dense_bias'"):
        load_weights(tmp_path / "missing.npz")


def test_refuses_quantized_variants_up_front() -> None:
    assert NumpyLSTM.unsupported_reason({"precision": "fp32", "format": "tflite"}) is None
    assert "float32 weights" in NumpyLSTM.unsupported_reason({"precision": "dynint8", "format": "onnx"})
