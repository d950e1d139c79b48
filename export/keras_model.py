"""The trained Keras 3 model: load it, check it is in the recurrent family, read its weights.

The family (edgelstm.core.family): Embedding -> LSTM or GRU layers, each optionally
Bidirectional -> zero or more hidden Dense layers (relu, tanh, sigmoid or linear) ->
Dense(1, sigmoid) or Dense(C, softmax) (C >= 2 labels: one probability each,
edgelstm.core.outputs), with weightless Dropout layers anywhere. Anything else
is refused here, before any conversion, with one line naming the layer found.

Runs inside the export subprocesses only: importing this module costs nothing,
each function imports Keras itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core import family
from edgelstm.core.errors import ExportError
from edgelstm.core.family import GRU, LSTM, HiddenDense, RecurrentLayer
from edgelstm.core.outputs import MAX_LABELS, SIGMOID, SOFTMAX, as_scores

PADDING_ID = 0  # the id the tokenizer pads with, and the one a masked embedding skips
# Layers with no effect at inference that may sit between the weighted ones.
PASS_THROUGH = ("InputLayer", "Dropout", "SpatialDropout1D")
RECURRENT_TYPES = {"LSTM": LSTM, "GRU": GRU}


@dataclass(frozen=True)
class Architecture:
    vocab_size: int
    embedding_dim: int
    maxlen: int
    recurrent: tuple[RecurrentLayer, ...]
    head_units: int = 1  # the Dense head's outputs: 1 (sigmoid) or C (softmax)
    head_output: str = SIGMOID
    mask_zero: bool = False  # the embedding masks id 0: the stack runs over the real tokens only
    hidden: tuple[HiddenDense, ...] = ()  # the Dense layers between the last recurrent layer and the head

    @property
    def head(self) -> str:
        """'Dense(1, sigmoid)' or 'Dense(C, softmax)'."""
        return f"Dense({self.head_units}, {self.head_output})"

    def head_record(self) -> dict[str, Any]:
        """What export checks against the labels: {"output": "sigmoid", "units": 1} or {"output": "softmax", "units": C}."""
        return {"output": self.head_output, "units": self.head_units}

    @property
    def lstm_units(self) -> int:
        """Width of the first layer's state (h0, c0): what the classic model calls its LSTM units."""
        return self.recurrent[0].units

    @property
    def use_bias(self) -> bool:
        return all(layer.use_bias for layer in self.recurrent)

    @property
    def fast_path(self) -> bool:
        return family.fast_path_applies(self.recurrent)

    @property
    def state_roles(self) -> list[str]:
        """The twin's state inputs, layer by layer (none when the fast path does not apply)."""
        return family.state_roles(self.recurrent) if self.fast_path else []

    def state_units(self, role: str) -> int:
        return self.recurrent[family.role_layer(role)[0]].units

    def to_dict(self) -> dict[str, Any]:
        """The manifest's source_run.architecture: the classic fields, then the stack layer by layer."""
        data: dict[str, Any] = {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
                                "lstm_units": self.lstm_units, "maxlen": self.maxlen, "use_bias": self.use_bias,
                                "layers": family.describe(self.recurrent, self.head, self.hidden, mask_zero=self.mask_zero),
                                "recurrent": [layer.to_dict() for layer in self.recurrent],
                                "hidden_dense": [layer.to_dict() for layer in self.hidden],
                                "fast_path": self.fast_path}
        if self.mask_zero:  # absent for an unmasked model, as in bundles written before it existed
            data["mask_zero"] = True
        reason = family.padded_only_reason(self.recurrent)
        if reason:
            data["padded_only"] = reason
        return data


@dataclass(frozen=True)
class Layers:
    """The model's weighted layers: the embedding, each recurrent layer and each hidden Dense layer
    with its description, the head."""

    embedding: Any
    recurrent: tuple[tuple[RecurrentLayer, Any], ...]
    dense: Any
    hidden: tuple[tuple[HiddenDense, Any], ...] = ()

    @property
    def stack(self) -> tuple[RecurrentLayer, ...]:
        return tuple(spec for spec, _ in self.recurrent)

    @property
    def hidden_specs(self) -> tuple[HiddenDense, ...]:
        return tuple(spec for spec, _ in self.hidden)


def import_keras() -> Any:
    # Quiet TensorFlow's C++ start-up notices; the subprocess log keeps real errors.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def load_model(path: Path) -> Any:
    keras = import_keras()
    return keras.saving.load_model(path, compile=False)


def layers_of(model: Any) -> Layers:
    """The family's layers, or an ExportError naming the first layer outside it."""
    kept = [layer for layer in model.layers if type(layer).__name__ not in PASS_THROUGH]
    if len(kept) < 3 or type(kept[0]).__name__ != "Embedding" or type(kept[-1]).__name__ != "Dense":
        kinds = " -> ".join(type(layer).__name__ for layer in kept) or "none"
        raise ExportError(f"the model's layers are {kinds}: export converts {family.SUPPORTED}")
    embedding, middle, dense = kept[0], kept[1:-1], kept[-1]
    _check_head(dense)
    hidden_count = _trailing_dense(middle)
    middle, hidden_layers = middle[:len(middle) - hidden_count], middle[len(middle) - hidden_count:]
    if not middle:
        kinds = " -> ".join(type(layer).__name__ for layer in kept)
        raise ExportError(f"the model's layers are {kinds}, with no recurrent layer: export converts {family.SUPPORTED}")
    recurrent = tuple((_recurrent_spec(layer, last=index == len(middle) - 1), layer)
                      for index, layer in enumerate(middle))
    refusal = family.masked_refusal([spec for spec, _ in recurrent], masks_zero(embedding))
    if refusal:
        raise ExportError(f"layer {embedding.name}: {refusal}")
    hidden = tuple((_hidden_spec(layer), layer) for layer in hidden_layers)
    return Layers(embedding, recurrent, dense, hidden)


def _trailing_dense(layers: list[Any]) -> int:
    """How many of `layers` at the end are Dense: the hidden layers between the recurrent ones and the head."""
    count = 0
    while count < len(layers) and type(layers[len(layers) - 1 - count]).__name__ == "Dense":
        count += 1
    return count


def _hidden_spec(layer: Any) -> HiddenDense:
    """A hidden Dense layer's description, or an ExportError naming its activation and the accepted ones."""
    config = layer.get_config()
    activation = config.get("activation") or family.LINEAR
    if activation not in family.DENSE_ACTIVATIONS:
        raise ExportError(f"layer {layer.name} is Dense({config.get('units')}, activation={activation!r}); a hidden "
                          f"Dense layer before the head takes activation {', '.join(map(repr, family.DENSE_ACTIVATIONS))} "
                          f"or None ({family.SUPPORTED})")
    _check_config(layer, lora_rank=None)  # LoRA adds weights the device models do not have
    return HiddenDense(int(config["units"]), activation, use_bias=bool(config.get("use_bias", True)))


def masks_zero(embedding: Any) -> bool:
    return bool(embedding.get_config().get("mask_zero", False))


def _recurrent_spec(layer: Any, *, last: bool) -> RecurrentLayer:
    """One recurrent layer's description, checking it computes what the device models compute."""
    kind = type(layer).__name__
    bidirectional = kind == "Bidirectional"
    inner = layer.forward_layer if bidirectional else layer
    inner_kind = type(inner).__name__
    if inner_kind not in RECURRENT_TYPES:
        what = f"Bidirectional({inner_kind})" if bidirectional else kind
        raise ExportError(f"layer {layer.name} is a {what}, which is outside the recurrent family: export "
                          f"converts {family.SUPPORTED}")
    if bidirectional:
        _check_config(layer, merge_mode="concat")
        _check_config(layer.backward_layer, go_backwards=True)
    cell = RECURRENT_TYPES[inner_kind]
    expected: dict[str, Any] = {"return_sequences": not last, "return_state": False, "stateful": False,
                                "activation": "tanh", "recurrent_activation": "sigmoid"}
    if not bidirectional:
        expected["go_backwards"] = False
    if cell == GRU:
        expected["reset_after"] = True  # Keras' default: the recurrent bias inside the reset gate's product
    _check_config(inner, **expected)
    return RecurrentLayer(cell, int(inner.units), bidirectional=bidirectional, use_bias=bool(inner.use_bias))


def _check_head(dense: Any) -> None:
    """Dense(1, sigmoid) or Dense(C, softmax) with 2 <= C <= MAX_LABELS; else an ExportError naming what it is."""
    config = dense.get_config()
    units, activation = int(config.get("units", 0)), config.get("activation")
    if (units, activation) == (1, SIGMOID) or (activation == SOFTMAX and 2 <= units <= MAX_LABELS):
        return
    raise ExportError(f"layer {dense.name} is Dense({units}, activation={activation!r}); export supports "
                      f"Dense(1, 'sigmoid') for two labels or Dense(C, 'softmax') for C = 2 to {MAX_LABELS} labels "
                      f"({family.SUPPORTED})")


def _check_config(layer: Any, **expected: Any) -> None:
    config = layer.get_config()
    wrong = {key: config.get(key) for key, value in expected.items() if config.get(key, value) != value}
    if wrong:
        found = ", ".join(f"{key}={value!r}" for key, value in wrong.items())
        wanted = ", ".join(f"{key}={expected[key]!r}" for key in wrong)
        raise ExportError(f"layer {layer.name} has {found}; export supports {wanted} ({family.SUPPORTED})")


def architecture(model: Any) -> Architecture:
    layers = layers_of(model)
    maxlen = model.inputs[0].shape[1]
    if maxlen is None:
        raise ExportError("the model's input has no fixed sequence length: export needs [batch, maxlen] int ids")
    head = layers.dense.get_config()  # checked by layers_of: Dense(1, sigmoid) or Dense(C, softmax)
    return Architecture(vocab_size=int(layers.embedding.input_dim), embedding_dim=int(layers.embedding.output_dim),
                        maxlen=int(maxlen), recurrent=layers.stack, head_units=int(head["units"]),
                        head_output=head["activation"], mask_zero=masks_zero(layers.embedding),
                        hidden=layers.hidden_specs)


def numpy_weights(model: Any) -> dict[str, np.ndarray]:
    """weights.npz's arrays (docs/contracts.md): float32, gate blocks in Keras order, names from core.family."""
    layers = layers_of(model)
    stack = layers.stack
    arrays = {"embedding": layers.embedding.get_weights()[0]}
    for index, (spec, layer) in enumerate(layers.recurrent):
        weights = layer.get_weights()  # Bidirectional: the forward layer's, then the backward layer's
        per_direction = len(weights) // len(spec.directions)
        for position, direction in enumerate(spec.directions):
            own = weights[position * per_direction:(position + 1) * per_direction]
            kernel, recurrent_kernel = own[0], own[1]
            bias = own[2] if spec.use_bias else np.zeros(_bias_shape(spec), np.float32)
            for part, value in zip(family.WEIGHT_PARTS, (kernel, recurrent_kernel, bias)):
                arrays[family.weight_key(stack, index, direction, part)] = value
    for index, (spec, layer) in enumerate(layers.hidden):
        kernel, *bias = layer.get_weights()
        arrays[family.hidden_key(index, spec.activation, "kernel")] = kernel
        arrays[family.hidden_key(index, spec.activation, "bias")] = bias[0] if bias else np.zeros(spec.units, np.float32)
    dense_kernel, dense_bias = layers.dense.get_weights()
    arrays.update(dense_kernel=dense_kernel, dense_bias=dense_bias)
    if masks_zero(layers.embedding):  # the file says it (absent: no mask, as in every older bundle)
        arrays[family.MASK_ZERO_KEY] = np.ones((), np.float32)
    return {name: np.asarray(value, dtype=np.float32) for name, value in arrays.items()}


def _bias_shape(spec: RecurrentLayer) -> tuple[int, ...]:
    # A reset_after GRU keeps two biases, the input's and the recurrent one: [2, 3H].
    return (2, 3 * spec.units) if spec.cell == GRU else (4 * spec.units,)


def predict(model: Any, ids: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """The reference probabilities, float32: [n] (label 1) for two labels, [n, C] for C >= 3
    (edgelstm.core.outputs.as_scores)."""
    return as_scores(model.predict(ids, batch_size=batch_size, verbose=0))


def twin(model: Any, *, batch_size: int | None, module: Any = None, state_inputs: bool = True,
         unroll: bool = False, keep_mask: bool = False) -> Any:
    """The same weights in a fresh model of `module` (Keras 3 by default, or tf_keras).

    With `state_inputs` and a stack that reads forwards only, the inputs are ids [b, None]
    and every layer's initial state (core.family.state_roles: h0, c0, h0_layer1, ...), so the
    runtime can start a short, front-padded text from the precomputed state after its
    padding and run only its real tokens; with zero states and maxlen ids it is exactly the
    padded model. Otherwise (or for a bidirectional stack) the input is ids [b, maxlen] alone.
    `unroll`: every recurrent layer unrolled over its steps (no loop in the graph).

    A masked embedding (mask_zero=True) gives a graph without a mask that computes the same
    (`_without_mask`), so every converter sees plain recurrent layers; `keep_mask` keeps Keras'
    mask instead (the clean model.keras of an imported file, not for conversion).
    """
    keras = module or import_keras()
    layers = layers_of(model)
    arch = architecture(model)
    with_state = state_inputs and arch.fast_path
    equivalent = arch.mask_zero and not keep_mask
    ids = keras.Input((None if with_state else arch.maxlen,), batch_size=batch_size, dtype="int32", name="ids")
    states = {role: keras.Input((arch.state_units(role),), batch_size=batch_size, dtype="float32", name=role)
              for role in (arch.state_roles if with_state else [])}
    pairs = [(layers.embedding, keras.layers.Embedding(arch.vocab_size, arch.embedding_dim,
                                                       mask_zero=arch.mask_zero and keep_mask))]
    count = keras.layers.Lambda(_real_count, output_shape=())(ids) if equivalent else None
    x = pairs[0][1](keras.layers.Lambda(_real_first, output_shape=ids.shape[1:])([ids, count]) if equivalent else ids)
    for index, (spec, source) in enumerate(layers.recurrent):
        last = index == len(layers.recurrent) - 1
        target = _recurrent_layer(keras, spec, last=last and not equivalent, unroll=unroll)
        initial = [states[family.state_role(index, state)] for state in family.CELL_STATES[spec.cell]] if with_state else None
        x = target(x, initial_state=initial) if initial else target(x)
        pairs.append((source, target))
    if equivalent:  # the top layer's output after each row's last real token
        x = keras.layers.Lambda(_at_last_real_step, output_shape=(arch.recurrent[-1].output_units,))([x, count])
    for spec, source in layers.hidden:
        pairs.append((source, keras.layers.Dense(spec.units, activation=spec.activation, use_bias=spec.use_bias)))
        x = pairs[-1][1](x)
    head = layers.dense.get_config()
    pairs.append((layers.dense, keras.layers.Dense(int(head["units"]), activation=head["activation"])))
    out = pairs[-1][1](x)
    built = keras.Model([ids, *states.values()] if states else ids, out)
    for source, target in pairs:
        target.set_weights(source.get_weights())
    return built


# --- a masked embedding without a mask --------------------------------------------------------
# Keras' masking skips every id 0, so the stack runs over the n real tokens from the zero state,
# wherever the padding is. The same without a mask: move each row's real tokens to the front (its
# padding after them), run the plain stack, which reads the real tokens first from its initial
# state, and take the top layer's output at step n - 1 (zeros for an empty row, as Keras gives).
# The real tokens are one run, found by where it starts: after the padding of a pre-padded row
# (edgelstm's and pad_sequences' tokenizers), at step 0 of a post-padded one (TextVectorization).
# Builtin ops only (NOT_EQUAL, CAST, SUM, RANGE, SELECT_V2, REDUCE_MIN, GATHER, EQUAL, MUL), per row, so the
# batch may mix lengths. Measured exact against Keras (export's parity gate checks it per variant).
def _real_count(ids: Any) -> Any:
    """Per row, the ids that are not padding: [batch] int32."""
    import tensorflow as tf

    return tf.reduce_sum(tf.cast(tf.not_equal(ids, PADDING_ID), tf.int32), axis=1)


def _real_first(inputs: Any) -> Any:
    """Padded ids [batch, steps] -> the same real ids first, padding after.

    A row's real ids are the run from its first non-padding step (steps for an empty row), so
    padding before them, after them or both is moved behind them.
    """
    import tensorflow as tf

    ids, count = inputs
    steps = tf.shape(ids)[1]
    step = tf.range(steps)[None, :]
    start = tf.reduce_min(tf.where(tf.not_equal(ids, PADDING_ID), step, steps), axis=1)
    positions = step + start[:, None]  # row i, step t reads t + start_i
    moved = tf.gather(ids, tf.minimum(positions, steps - 1), batch_dims=1)
    return tf.where(step < count[:, None], moved, tf.zeros_like(ids))


def _at_last_real_step(inputs: Any) -> Any:
    """The sequence [batch, steps, H] at each row's step n - 1: [batch, H], zeros where n = 0."""
    import tensorflow as tf

    sequence, count = inputs
    step = tf.range(tf.shape(sequence)[1])[None, :]
    pick = tf.cast(tf.equal(step, (count - 1)[:, None]), sequence.dtype)
    return tf.reduce_sum(sequence * pick[:, :, None], axis=1)


def _recurrent_layer(keras: Any, spec: RecurrentLayer, *, last: bool, unroll: bool = False) -> Any:
    options: dict[str, Any] = {"use_bias": spec.use_bias, "return_sequences": not last, "unroll": unroll}
    if spec.cell == GRU:
        options["reset_after"] = True
    make = keras.layers.GRU if spec.cell == GRU else keras.layers.LSTM
    return keras.layers.Bidirectional(make(spec.units, **options)) if spec.bidirectional else make(spec.units, **options)


def stateful_twin(model: Any, *, batch_size: int | None) -> Any:
    """`twin` in Keras 3 with the state inputs (the fast path's model)."""
    return twin(model, batch_size=batch_size)


def padding_states(model: Any, maxlen: int, padding_id: int = 0) -> dict[str, np.ndarray]:
    """Per state input (padding_states.npz's names: h, c, h_layer1, ...), the state [maxlen + 1, H]
    after k = 0..maxlen padding tokens from the zero state, by Keras' own cells, layer by layer.

    The same for every text when the stack reads forwards, so export computes it once and the
    runtime looks it up; empty for a bidirectional stack (core.family.PADDED_ONLY_BIDIRECTIONAL).
    """
    import tensorflow as tf

    layers = layers_of(model)
    if not family.fast_path_applies(layers.stack):
        return {}
    if masks_zero(layers.embedding):  # Keras skips masked steps: the state after any padding is the zero state
        return {family.table_key(role): np.zeros((maxlen + 1, layers.stack[family.role_layer(role)[0]].units),
                                                 np.float32) for role in family.state_roles(layers.stack)}
    pad = tf.constant(layers.embedding.get_weights()[0][padding_id:padding_id + 1], tf.float32)
    states = [[tf.zeros((1, spec.units)) for _ in family.CELL_STATES[spec.cell]] for spec in layers.stack]
    tables: dict[str, list[np.ndarray]] = {}
    for step in range(maxlen + 1):
        x = pad
        for index, (spec, layer) in enumerate(layers.recurrent):
            if step:  # row 0 is the zero state itself
                x, states[index] = layer.cell(x, states[index], training=False)
                states[index] = list(states[index]) if isinstance(states[index], (list, tuple)) else [states[index]]
            for state, value in zip(family.CELL_STATES[spec.cell], states[index]):
                tables.setdefault(family.table_key(family.state_role(index, state)), []).append(np.asarray(value)[0])
    return {key: np.stack(rows).astype(np.float32) for key, rows in tables.items()}
