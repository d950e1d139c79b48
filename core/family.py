"""The recurrent family: which stacks of recurrent layers edgelstm trains, exports and runs.

A model is `Embedding -> recurrent layer(s) -> hidden Dense layer(s) -> Dense(1, sigmoid)`,
each recurrent layer an LSTM or a GRU (Keras' `reset_after=True` convention), optionally
`Bidirectional`, every layer but the last returning its whole sequence, then zero or more
hidden `Dense` layers with an activation of `DENSE_ACTIVATIONS`. This module holds what export,
the runtime and the tests must agree on: the description of a stack (`RecurrentLayer`,
`HiddenDense`), the names of its arrays in weights.npz, the names of its state inputs and
padding tables (the fast path), and why a bidirectional stack runs the padded way only.

Pure Python: the runtime and the command line import it without numpy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

LSTM, GRU = "lstm", "gru"
CELLS = (LSTM, GRU)
# The state vectors each cell carries from step to step, in the order Keras takes them.
CELL_STATES = {LSTM: ("h", "c"), GRU: ("h",)}
# Gate blocks in a kernel's columns, in Keras' order: LSTM i, f, c, o; GRU z, r, h.
GATE_ORDER = {LSTM: "ifco", GRU: "zrh"}
FORWARD, BACKWARD = "fw", "bw"
IDS_ROLE = "ids"  # the ids input of a model, beside its state inputs
WEIGHT_PARTS = ("kernel", "recurrent_kernel", "bias")
# weights.npz of a masked-embedding model holds this scalar (1.0); older files and unmasked models lack it.
MASK_ZERO_KEY = "embedding_mask_zero"
SUPPORTED = ("Embedding (mask_zero=True or False) -> LSTM or GRU layers (each may be Bidirectional, not with "
             "mask_zero; all but the last with return_sequences=True) -> zero or more Dense(units, "
             "relu|tanh|sigmoid|linear) -> Dense(1, sigmoid) or Dense(C, softmax), Dropout layers anywhere")
# Keras' masking skips every step whose id is 0: the stack runs over the real tokens only, from the
# zero state. The device graphs compute that without a mask (export/keras_model.py, `twin`).
MASKED = "masked"
# Why a masked embedding cannot feed a Bidirectional layer yet (export and training refuse it).
MASKED_BIDIRECTIONAL = ("mask_zero=True with a Bidirectional layer is not supported yet: the device graphs "
                        "skip the padding by moving the real tokens to the front, which the backward "
                        "direction would need in reverse; train or export it with mask_zero=False")
DENSE_PARTS = ("kernel", "bias")
# Hidden Dense activations every converter and the NumPy backend compute exactly (builtin ops
# FULLY_CONNECTED's fused RELU, TANH, LOGISTIC; ONNX Relu, Tanh, Sigmoid). Keras writes
# activation=None as "linear".
RELU, TANH, SIGMOID, LINEAR = "relu", "tanh", "sigmoid", "linear"
DENSE_ACTIVATIONS = (RELU, TANH, SIGMOID, LINEAR)
# Why a stack with a backward direction cannot skip its padding (docs/contracts.md, "Fast path").
PADDED_ONLY_BIDIRECTIONAL = ("a Bidirectional layer's backward direction reads the front padding last, after "
                             "the text, so its state there depends on the text: no table can skip the "
                             "padding, and every variant runs the padded way")
# weights.npz of the classic single LSTM keeps its original names (bundles before the family).
_CLASSIC_KEYS = {"kernel": "lstm_kernel", "recurrent_kernel": "lstm_recurrent_kernel", "bias": "lstm_bias"}
_WEIGHT_KEY = re.compile(r"^rnn(?P<layer>\d+)_(?P<cell>lstm|gru)_(?P<direction>fw|bw)_(?P<part>kernel|recurrent_kernel|bias)$")
_HIDDEN_KEY = re.compile(r"^hidden(?P<layer>\d+)_(?P<activation>[a-z]+)_(?P<part>kernel|bias)$")
_STATE_ROLE = re.compile(r"^(?P<state>[hc])0(?:_layer(?P<layer>[1-9]\d*))?$")


@dataclass(frozen=True)
class RecurrentLayer:
    """One recurrent layer as export found it and the runtime runs it."""

    cell: str  # LSTM or GRU
    units: int  # per direction
    bidirectional: bool = False
    use_bias: bool = True

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"unknown recurrent cell {self.cell!r}: accepted are {', '.join(CELLS)}")

    @property
    def directions(self) -> tuple[str, ...]:
        return (FORWARD, BACKWARD) if self.bidirectional else (FORWARD,)

    @property
    def output_units(self) -> int:
        """Width of what the layer hands on: both directions' states side by side (Keras' concat)."""
        return self.units * len(self.directions)

    @property
    def gates(self) -> int:
        return len(GATE_ORDER[self.cell])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecurrentLayer:
        return cls(cell=str(data["cell"]), units=int(data["units"]), bidirectional=bool(data["bidirectional"]),
                   use_bias=bool(data.get("use_bias", True)))


@dataclass(frozen=True)
class HiddenDense:
    """One Dense layer between the last recurrent layer and the head: h = activation(x W + b)."""

    units: int
    activation: str = RELU
    use_bias: bool = True

    def __post_init__(self) -> None:
        if self.activation not in DENSE_ACTIVATIONS:
            raise ValueError(f"a hidden Dense layer's activation {self.activation!r} is not supported: accepted "
                             f"are {', '.join(DENSE_ACTIVATIONS)} (None is linear)")
        if self.units < 1:
            raise ValueError(f"a hidden Dense layer needs at least one unit, not {self.units}")

    def __str__(self) -> str:
        return f"Dense({self.units}, {self.activation})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HiddenDense:
        return cls(units=int(data["units"]), activation=str(data["activation"]),
                   use_bias=bool(data.get("use_bias", True)))


def describe(stack: Sequence[RecurrentLayer], head: str = "Dense(1, sigmoid)", hidden: Sequence[HiddenDense] = (),
             *, mask_zero: bool = False) -> str:
    """'Embedding -> Bidirectional(LSTM 64) -> GRU 32 -> Dense(16, relu) -> Dense(1, sigmoid)' (`head`:
    'Dense(3, softmax)'; `hidden`: the Dense layers before it); a masked embedding reads
    'Embedding(mask_zero=True)'."""
    parts = [f"{layer.cell.upper()} {layer.units}" for layer in stack]
    parts = [f"Bidirectional({part})" if layer.bidirectional else part for part, layer in zip(parts, stack)]
    return " -> ".join(["Embedding(mask_zero=True)" if mask_zero else "Embedding", *parts, *map(str, hidden), head])


def is_classic(stack: Sequence[RecurrentLayer]) -> bool:
    """The reference shape: one unidirectional LSTM (every format and route was built for it first)."""
    return len(stack) == 1 and stack[0].cell == LSTM and not stack[0].bidirectional


def fast_path_applies(stack: Sequence[RecurrentLayer]) -> bool:
    """True when every layer reads the text forwards, so the state after k padding steps is
    the same for every text, layer by layer (the fast path); False with any backward direction."""
    return not any(layer.bidirectional for layer in stack)


def masked_refusal(stack: Sequence[RecurrentLayer], mask_zero: bool) -> str | None:
    """Why a masked embedding cannot feed this stack, or None (MASKED_BIDIRECTIONAL)."""
    return MASKED_BIDIRECTIONAL if mask_zero and not fast_path_applies(stack) else None


def padded_only_reason(stack: Sequence[RecurrentLayer]) -> str | None:
    return None if fast_path_applies(stack) else PADDED_ONLY_BIDIRECTIONAL


def features(stack: Sequence[RecurrentLayer], *, mask_zero: bool = False) -> set[str]:
    """What sets a stack apart from the classic LSTM, as named in a route's refusals (core/variants.py)."""
    found = {layer.cell for layer in stack if layer.cell != LSTM}
    if mask_zero:
        found.add(MASKED)
    if any(layer.bidirectional for layer in stack):
        found.add("bidirectional")
    if len(stack) > 1:
        found.add("stacked")
    return found


def record_features(architecture: dict[str, Any]) -> set[str]:
    """`features` of a manifest's source_run.architecture: its `recurrent` records and its `mask_zero`."""
    return features(stack_from_records(architecture.get("recurrent", [])),
                    mask_zero=bool(architecture.get("mask_zero", False)))


# --- weights.npz ----------------------------------------------------------------------------
def weight_key(stack: Sequence[RecurrentLayer], layer: int, direction: str, part: str) -> str:
    """The array name of one layer's kernel, recurrent kernel or bias, for one direction."""
    if is_classic(stack):
        return _CLASSIC_KEYS[part]
    return f"rnn{layer}_{stack[layer].cell}_{direction}_{part}"


def weight_keys(stack: Sequence[RecurrentLayer]) -> list[str]:
    return [weight_key(stack, index, direction, part) for index, layer in enumerate(stack)
            for direction in layer.directions for part in WEIGHT_PARTS]


def stack_from_records(records: Iterable[dict[str, Any]]) -> tuple[RecurrentLayer, ...]:
    return tuple(RecurrentLayer.from_dict(record) for record in records)


def stack_from_weights(shapes: dict[str, tuple[int, ...]]) -> tuple[RecurrentLayer, ...]:
    """The stack a weights.npz holds, read from its array names and shapes (the file describes itself)."""
    if all(key in shapes for key in _CLASSIC_KEYS.values()):
        return (RecurrentLayer(LSTM, int(shapes["lstm_recurrent_kernel"][0])),)
    found: dict[int, dict[str, Any]] = {}
    for key in shapes:
        match = _WEIGHT_KEY.match(key)
        if match:
            layer = found.setdefault(int(match["layer"]), {"cells": set(), "directions": set()})
            layer["cells"].add(match["cell"])
            layer["directions"].add(match["direction"])
    if not found or sorted(found) != list(range(len(found))):
        raise ValueError(f"weights.npz names no recurrent layers 0..n-1 (arrays: {', '.join(sorted(shapes))})")
    stack = []
    for index in range(len(found)):
        cells, directions = found[index]["cells"], found[index]["directions"]
        if len(cells) != 1 or FORWARD not in directions:
            raise ValueError(f"weights.npz layer {index}: expected one cell and a forward direction, "
                             f"found cells {sorted(cells)} and directions {sorted(directions)}")
        cell = next(iter(cells))
        units = int(shapes[f"rnn{index}_{cell}_{FORWARD}_recurrent_kernel"][0])
        stack.append(RecurrentLayer(cell, units, bidirectional=BACKWARD in directions))
    return tuple(stack)


def hidden_key(index: int, activation: str, part: str) -> str:
    """The array name of hidden Dense layer `index`'s kernel [in, units] or bias [units]: the name
    carries the activation, so weights.npz alone says what the layer computes."""
    return f"hidden{index}_{activation}_{part}"


def hidden_keys(hidden: Sequence[HiddenDense]) -> list[str]:
    return [hidden_key(index, layer.activation, part) for index, layer in enumerate(hidden) for part in DENSE_PARTS]


def hidden_from_records(records: Iterable[dict[str, Any]]) -> tuple[HiddenDense, ...]:
    return tuple(HiddenDense.from_dict(record) for record in records)


def hidden_from_weights(shapes: dict[str, tuple[int, ...]]) -> tuple[HiddenDense, ...]:
    """The hidden Dense layers a weights.npz holds (none in bundles before them), read from its names
    and kernel shapes; a layer missing its kernel gets one unit here and is refused by its loader."""
    activations: dict[int, set[str]] = {}
    for key in shapes:
        match = _HIDDEN_KEY.match(key)
        if match:
            activations.setdefault(int(match["layer"]), set()).add(match["activation"])
    if sorted(activations) != list(range(len(activations))):
        raise ValueError(f"weights.npz names hidden Dense layers {sorted(activations)}, expected 0..n-1")
    hidden = []
    for index in range(len(activations)):
        if len(activations[index]) != 1:
            raise ValueError(f"weights.npz hidden Dense layer {index} names two activations: "
                             f"{', '.join(sorted(activations[index]))}")
        activation = next(iter(activations[index]))
        kernel = shapes.get(hidden_key(index, activation, "kernel"))
        try:
            hidden.append(HiddenDense(int(kernel[-1]) if kernel else 1, activation))
        except ValueError as error:
            raise ValueError(f"weights.npz hidden Dense layer {index}: {error}") from None
    return tuple(hidden)


# --- state inputs and padding tables (the fast path) ---------------------------------------
def state_role(layer: int, state: str) -> str:
    """The model input holding one layer's initial state: h0, c0 for layer 0 (the classic names),
    h0_layer1, c0_layer1, ... for the layers above."""
    return f"{state}0" if layer == 0 else f"{state}0_layer{layer}"


def table_key(role: str) -> str:
    """The padding_states.npz array of a state role: h0 -> h, c0_layer1 -> c_layer1."""
    layer, state = role_layer(role)
    return state + (f"_layer{layer}" if layer else "")


def role_of_table(key: str) -> str | None:
    """Inverse of `table_key`, None for a name that is not a state table."""
    state, _, layer = key.partition("_layer")
    role = f"{state}0" + (f"_layer{layer}" if layer else "")
    return role if _STATE_ROLE.match(role) and table_key(role) == key else None


def is_state_role(name: str) -> bool:
    return bool(_STATE_ROLE.match(name))


def is_fast_path_inputs(names: Iterable[str]) -> bool:
    """True when `names` are the ids and the state inputs of a fast-path model: "ids", "h0", and
    only further state roles (c0, h0_layer1, ...)."""
    names = list(names)
    states = [name for name in names if name != IDS_ROLE]
    return IDS_ROLE in names and "h0" in states and len(set(names)) == len(names) and all(map(is_state_role, states))


def state_roles(stack: Sequence[RecurrentLayer]) -> list[str]:
    """Every state input of a unidirectional stack, layer by layer, h before c."""
    return [state_role(index, state) for index, layer in enumerate(stack) for state in CELL_STATES[layer.cell]]


def role_layer(role: str) -> tuple[int, str]:
    """(layer, state) of a state role."""
    match = _STATE_ROLE.match(role)
    if not match:
        raise ValueError(f"{role!r} is not a state input name (h0, c0, h0_layer1, ...)")
    return int(match["layer"] or 0), match["state"]


def ordered_roles(roles: Iterable[str]) -> list[str]:
    """State roles in layer order, h before c: the order the runtime feeds them."""
    return sorted(roles, key=lambda role: (role_layer(role)[0], role_layer(role)[1] != "h"))
