"""The recurrent family (edgelstm.core.family): GRU, stacked and bidirectional layers.

Tiny Keras models of each member against the NumPy backend (same probabilities), models
outside the family refused with one line, and the training flags. The export of each
member through every variant with the real converters is in tests/test_family_export.py.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from helpers.ids import padded_in_front

from edgelstm.core import family
from edgelstm.core.errors import BundleError, ConfigError
from edgelstm.core.family import GRU, LSTM, RecurrentLayer
from edgelstm.runtime.backends.numpy_lstm import NumpyLSTM, load_weights
from edgelstm.runtime.padding import PaddingStates

VOCAB, EMBED, UNITS, STEPS = 40, 6, 5, 15
MEMBERS = ("lstm", "gru", "lstm-gru-stack", "bidirectional-lstm", "bidirectional-gru-lstm-stack")


def build_member(keras, member: str):
    """A tiny model of one family member, weights scaled up so gates saturate differently."""
    keras.utils.set_random_seed(1)
    layers = keras.layers
    ids = keras.Input((STEPS,), dtype="int32")
    x = layers.Embedding(VOCAB, EMBED)(ids)
    if member == "lstm":
        x = layers.LSTM(UNITS)(x)
    elif member == "gru":
        x = layers.GRU(UNITS)(x)
    elif member == "lstm-gru-stack":  # different widths and cells, a dropout between them
        x = layers.GRU(UNITS + 2)(layers.Dropout(0.2)(layers.LSTM(UNITS, return_sequences=True)(x)))
    elif member == "bidirectional-lstm":
        x = layers.Bidirectional(layers.LSTM(UNITS))(x)
    else:
        x = layers.Bidirectional(layers.GRU(UNITS, return_sequences=True))(x)
        x = layers.Bidirectional(layers.LSTM(UNITS))(x)
    model = keras.Model(ids, layers.Dense(1, activation="sigmoid")(x))
    model.set_weights([2.0 * w for w in model.get_weights()])
    return model


def mixed_ids(rows: int) -> np.ndarray:
    return padded_in_front(rows, vocab=VOCAB, steps=STEPS)


def saved_tables(tables: dict[str, np.ndarray]) -> PaddingStates:
    buffer = io.BytesIO()
    np.savez(buffer, **tables)
    return PaddingStates.load(buffer.getvalue())


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="keras is an export-time extra")


@pytest.mark.parametrize("member", MEMBERS)
def test_numpy_backend_runs_every_member_as_keras_does(keras, member: str) -> None:
    from edgelstm.export import keras_model

    model = build_member(keras, member)
    ids = mixed_ids(40)
    expected = keras_model.predict(model, ids)
    assert np.ptp(expected) > 0.05, "the test model should spread its outputs"
    weights = keras_model.numpy_weights(model)
    backend = NumpyLSTM(weights)
    np.testing.assert_allclose(backend.predict_ids(ids), expected, atol=1e-6, rtol=0)
    stack = keras_model.architecture(model).recurrent
    assert family.stack_from_weights({name: value.shape for name, value in weights.items()}) == stack
    tables = keras_model.padding_states(model, STEPS)
    if family.fast_path_applies(stack):
        # Keras' own cells' states after the padding, layer by layer, skip it exactly.
        assert set(tables) == {family.table_key(role) for role in family.state_roles(stack)}
        fast = NumpyLSTM(weights, padding_states=saved_tables(tables))
        assert fast.fast_path
        np.testing.assert_allclose(fast.predict_ids(ids), expected, atol=1e-6, rtol=0)
    else:
        assert tables == {} and not backend.skips_padding


def test_weights_file_describes_its_stack(tmp_path, keras) -> None:
    """weights.npz names its layers (rnn0_gru_fw_kernel, ...); a missing direction is refused by name."""
    from edgelstm.export import keras_model

    weights = keras_model.numpy_weights(build_member(keras, "bidirectional-gru-lstm-stack"))
    np.savez(tmp_path / "weights.npz", **weights)
    assert NumpyLSTM(load_weights(tmp_path / "weights.npz")).stack == (
        RecurrentLayer(GRU, UNITS, bidirectional=True), RecurrentLayer(LSTM, UNITS, bidirectional=True))
    damaged = {name: value for name, value in weights.items() if name != "rnn1_lstm_bw_bias"}
    np.savez(tmp_path / "damaged.npz", **damaged)
    with pytest.raises(BundleError, match="rnn1_lstm_bw_bias"):
        load_weights(tmp_path / "damaged.npz")
    wrong = dict(weights, rnn0_gru_fw_bias=weights["rnn0_gru_fw_bias"][0])
    np.savez(tmp_path / "wrong.npz", **wrong)
    with pytest.raises(BundleError, match=r"rnn0_gru_fw_bias has shape \(15,\), expected \(2, 15\)"):
        load_weights(tmp_path / "wrong.npz")


def test_gru_follows_the_reset_after_equations(keras) -> None:
    """The GRU step written out once more, in float64: reset gate applied after the recurrent bias."""
    from edgelstm.export import keras_model

    weights = keras_model.numpy_weights(build_member(keras, "gru"))
    kernel, recurrent, bias = (weights[f"rnn0_gru_fw_{part}"].astype(np.float64) for part in family.WEIGHT_PARTS)
    sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    ids = mixed_ids(12)
    expected = []
    for row in ids:
        h = np.zeros(UNITS)
        for token in row:
            x_z, x_r, x_h = np.split(weights["embedding"][token] @ kernel + bias[0], 3)
            h_z, h_r, h_h = np.split(h @ recurrent + bias[1], 3)
            z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
            h = z * h + (1 - z) * np.tanh(x_h + r * h_h)
        expected.append(sigmoid(h @ weights["dense_kernel"][:, 0] + weights["dense_bias"][0]))
    np.testing.assert_allclose(NumpyLSTM(weights).predict_ids(ids), expected, atol=1e-6, rtol=0)


def _out_of_family(keras, kind: str):
    layers = keras.layers
    ids = keras.Input((STEPS,), dtype="int32")
    x = layers.Embedding(VOCAB, EMBED)(ids)
    if kind == "Conv1D":
        x = layers.GlobalMaxPooling1D()(layers.Conv1D(4, 3)(x))
    elif kind == "MultiHeadAttention":
        x = layers.LSTM(UNITS)(layers.MultiHeadAttention(2, 4)(x, x))
    elif kind == "Scale":  # a custom layer

        class Scale(layers.Layer):
            def call(self, inputs):
                return 2.0 * inputs

        x = layers.LSTM(UNITS)(Scale()(x))
    elif kind == "SimpleRNN":
        x = layers.SimpleRNN(UNITS)(x)
    elif kind == "go_backwards":
        x = layers.LSTM(UNITS, go_backwards=True)(x)
    else:  # an LSTM that returns its sequence into the head
        x = layers.GlobalAveragePooling1D()(layers.LSTM(UNITS, return_sequences=True)(x))
    return keras.Model(ids, layers.Dense(1, activation="sigmoid")(x))


@pytest.mark.parametrize(("kind", "named"), [("Conv1D", "Conv1D"), ("MultiHeadAttention", "MultiHeadAttention"),
                                             ("Scale", "Scale"), ("SimpleRNN", "SimpleRNN"),
                                             ("go_backwards", "go_backwards=True"),
                                             ("pooling", "GlobalAveragePooling1D")])
def test_a_model_outside_the_family_is_refused_naming_the_layer(keras, kind: str, named: str) -> None:
    from edgelstm.core.errors import ExportError
    from edgelstm.export import keras_model

    with pytest.raises(ExportError) as caught:
        keras_model.architecture(_out_of_family(keras, kind))
    message = str(caught.value)
    assert named in message and "LSTM or GRU" in message and "\n" not in message, message


def test_state_roles_and_table_names_round_trip() -> None:
    stack = (RecurrentLayer(LSTM, 8), RecurrentLayer(GRU, 4), RecurrentLayer(LSTM, 2))
    roles = family.state_roles(stack)
    assert roles == ["h0", "c0", "h0_layer1", "h0_layer2", "c0_layer2"]
    assert [family.table_key(role) for role in roles] == ["h", "c", "h_layer1", "h_layer2", "c_layer2"]
    assert all(family.role_of_table(family.table_key(role)) == role for role in roles)
    assert family.role_of_table("h_layer0") is None and family.role_of_table("weights") is None
    assert family.ordered_roles(reversed(roles)) == roles


def test_training_flags_build_the_stack_and_are_recorded(keras) -> None:
    from edgelstm.export import keras_model
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.model import build_model

    config = TrainConfig(cell="gru", layers=2, bidirectional=True, vocab_size=50, maxlen=10, embedding_dim=4,
                         lstm_units=3, dropout=0.1, recurrent_dropout=0.1)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["cell"] == "gru" and config.to_dict()["layers"] == 2
    stack = keras_model.architecture(build_model(config)).recurrent
    assert stack == (RecurrentLayer(GRU, 3, bidirectional=True),) * 2
    classic = keras_model.architecture(build_model(TrainConfig(vocab_size=50, maxlen=10, embedding_dim=4,
                                                               lstm_units=3)))
    assert family.is_classic(classic.recurrent)


@pytest.mark.parametrize(("field", "value", "message"), [("cell", "rnn", "accepted are 'lstm', 'gru'"),
                                                         ("layers", 0, r"accepted is \[1, 8\]"),
                                                         ("bidirectional", "yes", "accepted is bool")])
def test_bad_family_flags_are_refused_in_one_line(field: str, value: object, message: str) -> None:
    from edgelstm.train.config import TrainConfig

    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


def test_manifest_records_read_a_stack_and_its_state_inputs() -> None:
    """The typed manifest (core.manifest) reads a GRU stack's architecture and fast-path inputs,
    and names a wrong field."""
    import copy
    import json
    from pathlib import Path

    from edgelstm.core.manifest import Manifest

    fixture = Path(__file__).parent / "fixtures" / "schema1" / "bundle" / "manifest.json"
    data = Manifest.from_dict(json.loads(fixture.read_text(encoding="utf-8"))).to_dict()
    assert Manifest.from_dict(copy.deepcopy(data)).source_run.recurrent == (RecurrentLayer(LSTM, 8),)  # before the family
    stack = (RecurrentLayer(GRU, 8), RecurrentLayer(GRU, 4))
    data["source_run"]["architecture"].update(recurrent=[layer.to_dict() for layer in stack], fast_path=True)
    for entry in data["variants"].values():
        if entry.get("fast_path"):
            entry["fast_path"]["inputs"] = {"ids": "ids", "h0": "h0", "h0_layer1": "h0_layer1"}
    manifest = Manifest.from_dict(copy.deepcopy(data))
    assert manifest.source_run.recurrent == stack and manifest.source_run.padded_only is None
    bad = copy.deepcopy(data)
    bad["source_run"]["architecture"]["recurrent"][1]["cell"] = "rnn"
    with pytest.raises(BundleError, match=r"recurrent\[1\]\.cell must be one of lstm, gru"):
        Manifest.from_dict(bad)
    name = next(name for name, entry in data["variants"].items() if entry.get("fast_path"))
    bad = copy.deepcopy(data)
    bad["variants"][name]["fast_path"]["inputs"] = {"ids": "ids", "c0": "c0"}  # no h0
    with pytest.raises(BundleError, match="must name the inputs ids and the states h0"):
        Manifest.from_dict(bad)


@pytest.mark.parametrize(("stack", "first"), [
    ((RecurrentLayer(LSTM, 8),), "onnx-dynint8"),
    ((RecurrentLayer(LSTM, 8), RecurrentLayer(LSTM, 8)), "onnx-dynint8"),
    ((RecurrentLayer(LSTM, 8, bidirectional=True),), "onnx-dynint8"),
    ((RecurrentLayer(GRU, 8),), "tflite-dynint8"),
    ((RecurrentLayer(LSTM, 8), RecurrentLayer(GRU, 4, bidirectional=True)), "tflite-dynint8"),
])
def test_the_preference_moves_a_gru_stack_lead_first_and_keeps_the_rest(stack, first: str) -> None:
    from edgelstm.core.variants import PREFERENCE, preference_for

    order = preference_for(family.features(stack))
    assert order[0] == first and sorted(order) == sorted(PREFERENCE)
    assert [name for name in order if name != first] == [name for name in PREFERENCE if name != first]


# --- a masked embedding (mask_zero=True) ----------------------------------------------------------
MASKED_MEMBERS = ("lstm", "gru", "lstm-gru-stack")


def build_masked(keras, member: str):
    """`build_member` with Keras' mask on the padding id: the stack skips the padding steps."""
    model = build_member(keras, member)
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "Embedding":
            layer["config"]["mask_zero"] = True
    masked = keras.Model.from_config(config)
    masked.set_weights([w + 0.1 for w in model.get_weights()])  # biases away from zero: padding would move the state
    return masked


def masked_ids(rows: int) -> np.ndarray:
    """`mixed_ids`, every other row padded after its ids instead (as TextVectorization pads), and a
    row of padding only (Keras: the zero state reaches the head)."""
    ids = mixed_ids(rows)
    for row in range(1, rows, 2):
        real = ids[row][ids[row] != 0]
        ids[row] = np.concatenate([real, np.zeros(STEPS - len(real), ids.dtype)])
    ids[0] = 0
    return ids


@pytest.mark.parametrize("member", MASKED_MEMBERS)
def test_a_masked_embedding_skips_the_padding_in_the_twin_and_numpy(keras, member: str) -> None:
    """Keras' masked model; its mask-free twin (what the converters see) and the NumPy backend
    give the same, and the padding tables are the zero state."""
    from edgelstm.export import keras_model

    model = build_masked(keras, member)
    ids = masked_ids(40)
    expected = keras_model.predict(model, ids)
    unmasked = build_member(keras, member)
    unmasked.set_weights(model.get_weights())
    arch = keras_model.architecture(model)
    assert arch.mask_zero and arch.to_dict()["mask_zero"] is True
    assert arch.to_dict()["layers"].startswith("Embedding(mask_zero=True) -> ")
    twin = keras_model.twin(model, batch_size=None, state_inputs=False)
    assert not any(getattr(layer, "mask_zero", False) for layer in twin.layers)  # no mask left for a converter
    np.testing.assert_allclose(keras_model.predict(twin, ids), expected, atol=1e-6, rtol=0)
    weights = keras_model.numpy_weights(model)
    np.testing.assert_allclose(NumpyLSTM(weights).predict_ids(ids), expected, atol=1e-6, rtol=0)
    tables = keras_model.padding_states(model, STEPS)
    assert all(not table.any() for table in tables.values()) and tables
    fast = NumpyLSTM(weights, padding_states=saved_tables(tables))
    np.testing.assert_allclose(fast.predict_ids(ids), expected, atol=1e-6, rtol=0)
    assert np.abs(expected - keras_model.predict(unmasked, ids)).max() > 1e-3, "the mask should change the outputs"


def test_a_masked_bidirectional_model_is_refused_in_one_line(keras) -> None:
    from edgelstm.core.errors import ExportError
    from edgelstm.export import keras_model
    from edgelstm.train.config import TrainConfig

    with pytest.raises(ExportError, match="mask_zero=True with a Bidirectional layer is not supported"):
        keras_model.architecture(build_masked(keras, "bidirectional-lstm"))
    with pytest.raises(ConfigError, match="mask_zero=True with bidirectional=True"):
        TrainConfig(mask_zero=True, bidirectional=True)


def test_the_mask_flag_trains_a_masked_embedding(keras) -> None:
    from edgelstm.export import keras_model
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.model import build_model

    config = TrainConfig(mask_zero=True, vocab_size=50, maxlen=10, embedding_dim=4, lstm_units=3)
    assert TrainConfig.from_dict(config.to_dict()) == config and config.to_dict()["mask_zero"] is True
    assert keras_model.architecture(build_model(config)).mask_zero
    assert not keras_model.architecture(build_model(TrainConfig(vocab_size=50, maxlen=10))).mask_zero


def test_an_imported_masked_model_keeps_its_mask_in_the_clean_model(keras, tmp_path) -> None:
    """export/worker.import_model reads a user's masked Sequential as it is: the run's model.keras
    keeps mask_zero=True and gives the user's probabilities; the manifest's architecture says so."""
    from edgelstm.export import keras_model, worker

    keras.utils.set_random_seed(2)
    user = keras.Sequential([keras.Input((STEPS,), dtype="int32"), keras.layers.Embedding(VOCAB, EMBED, mask_zero=True),
                             keras.layers.LSTM(UNITS), keras.layers.Dense(1, activation="sigmoid")])
    user.set_weights([w + 0.1 for w in user.get_weights()])
    user.save(tmp_path / "user.keras")
    result = worker.import_model({"model": str(tmp_path / "user.keras"), "out": str(tmp_path / "model.keras")})
    assert result["architecture"]["mask_zero"] is True
    clean = keras_model.load_model(tmp_path / "model.keras")
    assert keras_model.architecture(clean).mask_zero
    ids = masked_ids(20)
    np.testing.assert_allclose(keras_model.predict(clean, ids), keras_model.predict(user, ids), atol=1e-6, rtol=0)
