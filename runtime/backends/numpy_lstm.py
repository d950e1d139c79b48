"""The model's forward pass in plain NumPy: runs anywhere numpy does, 32-bit Pi OS included.

It reads the float32 weights of `weights.npz` (gate blocks in Keras' order; the array
names say the stack, core.family), so it serves the float32 variants only. Every member
of the recurrent family runs here: LSTM and GRU layers, stacked, each optionally
bidirectional. One step of each cell, in the equations' own names:

LSTM (Keras gate order i, f, c, o):

    z_t   = x_t W + h_{t-1} U + b            split into the four gates
    i_t   = sigmoid(z_i)                      input gate
    f_t   = sigmoid(z_f)                      forget gate
    c~_t  = tanh(z_c)                         candidate cell state (c_tilde_t)
    o_t   = sigmoid(z_o)                      output gate
    C_t   = f_t * C_{t-1} + i_t * c~_t
    h_t   = o_t * tanh(C_t)

GRU (Keras gate order z, r, h; reset_after=True: two biases, b_x on the input and b_h on
the recurrent product, and the reset gate scales the recurrent product after its bias):

    z_t   = sigmoid(x_t W_z + b_xz + h_{t-1} U_z + b_hz)      update gate
    r_t   = sigmoid(x_t W_r + b_xr + h_{t-1} U_r + b_hr)      reset gate
    h~_t  = tanh(x_t W_h + b_xh + r_t * (h_{t-1} U_h + b_hh))  candidate state (h_tilde_t)
    h_t   = z_t * h_{t-1} + (1 - z_t) * h~_t

A masked embedding (Keras' mask_zero=True, weights.npz's `embedding_mask_zero`) makes every
step whose id is 0 a skipped step, as Keras does: the state and the output carry over
unchanged, h_t = h_{t-1} and C_t = C_{t-1}, so the stack reads the real tokens only from
the zero state, and its padding table is the zero state.

A layer below the top hands its whole sequence h_1..h_T to the next; a bidirectional
layer runs a second copy over the reversed sequence (from the zero state) and hands on
both directions' states side by side, forward first (Keras' concat). Hidden Dense layers
(core.family.HiddenDense) then map the last state on, x_k = activation_k(x_{k-1} W_k + b_k)
with relu, tanh, sigmoid or linear, x_0 = h_T. The classifier head is sigmoid(x w_dense + b_dense),
or softmax(x W_dense + b_dense) over C labels, on the last of them (h_T itself without any).

Why it is fast enough (about 2 ms for 200 steps of LSTM 128 on one x86 core):
the input projections x_t W of all steps are one matrix product; the LSTM's gate
columns are reordered once to i, f, o, c so the three sigmoids are one call on a
contiguous slice (the GRU's z, r already are); every step writes into buffers
allocated once; and the state after k leading padding tokens does not depend on the
text in a forward-reading stack, so it is read from the bundle's padding_states.npz
(or computed once when a bundle has none) and a short, front-padded text starts from
it instead of stepping through its padding; a batch is sorted by length so each chunk
starts near its own first real token. A bidirectional stack runs the padded way: its
backward direction reads the padding last (core.family.PADDED_ONLY_BIDIRECTIONAL).

`threads=N` runs up to N of a batch's 32-row chunks at once (runtime/tuning.py): numpy
releases the GIL inside each product, so on 2 cores two chunks take about 0.75x the time
of one after the other. The chunks are those of one worker (a chunk's start state depends
on its rows), so results are identical; a batch of one chunk runs on the calling thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core import family
from edgelstm.core.errors import BackendUnavailableError, BundleError
from edgelstm.core.family import BACKWARD, GRU, LSTM, HiddenDense, RecurrentLayer
from edgelstm.core.outputs import MAX_LABELS, as_scores, scores_shape
from edgelstm.runtime import tuning
from edgelstm.runtime.backends._workers import RowWorkers
from edgelstm.runtime.padding import PaddingStates, steps_needed
from edgelstm.runtime.safeload import load_npz

# The classic single LSTM's arrays (every bundle before the family has exactly these).
WEIGHT_NAMES = ("embedding", "lstm_kernel", "lstm_recurrent_kernel", "lstm_bias", "dense_kernel", "dense_bias")
HEAD_NAMES = ("embedding", "dense_kernel", "dense_bias")
PADDING_ID = 0
# Rows per pass: bounds the buffers (rows x steps x 4H floats: 13 MB at 32 x 200 x 512)
# whatever the batch size, while still sharing each step's Python overhead among rows.
CHUNK_ROWS = 32


def _sigmoid_(x: np.ndarray) -> np.ndarray:
    """In-place logistic sigmoid, as 0.5 * tanh(x / 2) + 0.5: two passes fewer than 1 / (1 + exp(-x))."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def _softmax_(x: np.ndarray) -> np.ndarray:
    """In-place softmax over each row, the row's maximum subtracted first so exp cannot overflow."""
    x -= x.max(axis=1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=1, keepdims=True)
    return x


def load_weights(source: str | Path | bytes) -> dict[str, np.ndarray]:
    """The float32 arrays of weights.npz, with their shapes checked against each other."""
    if not isinstance(source, (bytes, bytearray)):
        try:
            source = Path(source).read_bytes()
        except OSError as error:
            raise BundleError(f"cannot read weights.npz: {error.strerror}") from None
    arrays = load_npz(bytes(source), "weights.npz", expect={name: ("f", 2 if name != "dense_bias" else 1)
                                                             for name in HEAD_NAMES}, required=HEAD_NAMES)
    stack, hidden = _stack_of(arrays), _hidden_of(arrays)
    names = [*HEAD_NAMES, *family.weight_keys(stack), *family.hidden_keys(hidden)]
    for name in names:
        if name not in arrays:
            raise BundleError(f"weights.npz lacks the array {name!r}: a {family.describe(stack, hidden=hidden)} model needs "
                              f"{', '.join(names)}")
        if arrays[name].dtype.kind != "f":
            raise BundleError(f"weights.npz member {name!r} is {arrays[name].dtype}, expected floating point")
    weights = {name: np.asarray(arrays[name], dtype=np.float32) for name in names}
    if family.MASK_ZERO_KEY in arrays:
        weights[family.MASK_ZERO_KEY] = np.asarray(arrays[family.MASK_ZERO_KEY], dtype=np.float32).reshape(())
    _check_shapes(weights)
    return weights


def _stack_of(weights: dict[str, np.ndarray]) -> tuple[RecurrentLayer, ...]:
    try:
        return family.stack_from_weights({name: value.shape for name, value in weights.items()})
    except ValueError as error:
        raise BundleError(str(error)) from None


def _hidden_of(weights: dict[str, np.ndarray]) -> tuple[HiddenDense, ...]:
    try:
        return family.hidden_from_weights({name: value.shape for name, value in weights.items()})
    except ValueError as error:
        raise BundleError(str(error)) from None


def _check_shapes(w: dict[str, np.ndarray]) -> None:
    stack, hidden = _stack_of(w), _hidden_of(w)
    vocab, width = w["embedding"].shape
    expected: dict[str, tuple[int, ...]] = {}
    for index, layer in enumerate(stack):
        gates, units = layer.gates * layer.units, layer.units
        shapes = {"kernel": (width, gates), "recurrent_kernel": (units, gates),
                  "bias": (2, gates) if layer.cell == GRU else (gates,)}
        for direction in layer.directions:
            expected.update({family.weight_key(stack, index, direction, part): shape for part, shape in shapes.items()})
        width = layer.output_units
    for index, dense in enumerate(hidden):
        expected[family.hidden_key(index, dense.activation, "kernel")] = (width, dense.units)
        expected[family.hidden_key(index, dense.activation, "bias")] = (dense.units,)
        width = dense.units
    classes = w["dense_kernel"].shape[-1]  # 1: sigmoid; C >= 2: softmax
    if not 1 <= classes <= MAX_LABELS:
        raise BundleError(f"weights.npz: dense_kernel has {classes} columns; a head has 1 (sigmoid) or 2 to "
                          f"{MAX_LABELS} (softmax, one per label)")
    expected.update(dense_kernel=(width, classes), dense_bias=(classes,))
    for name, shape in expected.items():
        if w[name].shape != shape:
            raise BundleError(f"weights.npz: {name} has shape {w[name].shape}, expected {shape} "
                              f"for embedding [{vocab}, {w['embedding'].shape[1]}] and {family.describe(stack, hidden=hidden)}")


def _ifco_to_ifoc(matrix: np.ndarray, units: int) -> np.ndarray:
    """Reorder gate columns from Keras' i, f, c, o to i, f, o, c: the sigmoids become one slice."""
    i, f, c, o = (matrix[..., k * units:(k + 1) * units] for k in range(4))
    return np.ascontiguousarray(np.concatenate([i, f, o, c], axis=-1))


# What each hidden Dense activation does to its outputs, in place (core.family.DENSE_ACTIVATIONS).
_ACTIVATE_IN_PLACE: dict[str, Callable[[np.ndarray], object]] = {
    family.RELU: lambda x: np.maximum(x, 0.0, out=x),
    family.TANH: lambda x: np.tanh(x, out=x),
    family.SIGMOID: _sigmoid_,
    family.LINEAR: lambda x: x,
}


@dataclass
class _HiddenDense:
    """One hidden Dense layer: x W + b, then its activation."""

    activation: str
    W: np.ndarray  # [in, units]
    b: np.ndarray  # [units]

    def apply(self, x: np.ndarray) -> np.ndarray:
        out = x @ self.W
        out += self.b
        _ACTIVATE_IN_PLACE[self.activation](out)
        return out


@dataclass
class _Direction:
    """One direction of one layer: weights ready for the step loop."""

    cell: str
    units: int
    W: np.ndarray  # [in, G * H]
    U: np.ndarray  # [H, G * H]
    b: np.ndarray  # [G * H]: LSTM bias, or the GRU's input bias b_x
    b_h: np.ndarray | None = None  # the GRU's recurrent bias [3H]

    @classmethod
    def from_weights(cls, layer: RecurrentLayer, kernel: np.ndarray, recurrent: np.ndarray,
                     bias: np.ndarray) -> _Direction:
        if layer.cell == LSTM:
            H = layer.units
            return cls(LSTM, H, _ifco_to_ifoc(kernel, H), _ifco_to_ifoc(recurrent, H), _ifco_to_ifoc(bias, H))
        return cls(GRU, layer.units, np.ascontiguousarray(kernel), np.ascontiguousarray(recurrent),
                   np.ascontiguousarray(bias[0]), np.ascontiguousarray(bias[1]))

    @property
    def state_names(self) -> tuple[str, ...]:
        return family.CELL_STATES[self.cell]

    def zero_state(self, rows: int) -> list[np.ndarray]:
        return [np.zeros((rows, self.units), np.float32) for _ in self.state_names]

    def project(self, x: np.ndarray) -> np.ndarray:
        """Input projections of every step in one product: [rows, steps, in] -> [rows, steps, G * H]."""
        rows, steps, width = x.shape
        z_x = (x.reshape(-1, width) @ self.W).reshape(rows, steps, self.W.shape[1])
        z_x += self.b
        return z_x

    def run(self, z_x: np.ndarray, state: list[np.ndarray], sequence: np.ndarray | None,
            skipped: np.ndarray | None = None) -> None:
        """Advance `state` in place over z_x [rows, steps, G * H]; write each h_t to `sequence` if given.

        `skipped` [rows, steps] bool (a masked embedding's padding): those steps keep the state as it was."""
        if self.cell == LSTM:
            self._run_lstm(z_x, state[0], state[1], sequence, skipped)
        else:
            self._run_gru(z_x, state[0], sequence, skipped)

    def _run_lstm(self, z_x: np.ndarray, h_t: np.ndarray, C_t: np.ndarray, sequence: np.ndarray | None,
                  skipped: np.ndarray | None) -> None:
        H = self.units
        z = np.empty((len(h_t), 4 * H), dtype=np.float32)
        tmp = np.empty((len(h_t), H), dtype=np.float32)
        # Views into z, named as in the equations; gate columns are in i, f, o, c order.
        i_t, f_t, o_t, c_tilde_t = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        sigmoid_gates = z[:, :3 * H]
        for t in range(z_x.shape[1]):
            held = _held(skipped, t, h_t, C_t)
            np.matmul(h_t, self.U, out=z)
            z += z_x[:, t]
            _sigmoid_(sigmoid_gates)          # i_t, f_t, o_t
            np.tanh(c_tilde_t, out=c_tilde_t)  # c~_t
            C_t *= f_t                         # C_t = f_t * C_{t-1} + i_t * c~_t
            np.multiply(i_t, c_tilde_t, out=tmp)
            C_t += tmp
            np.tanh(C_t, out=tmp)              # h_t = o_t * tanh(C_t)
            np.multiply(o_t, tmp, out=h_t)
            _restore(held, h_t, C_t)
            if sequence is not None:
                sequence[:, t] = h_t

    def _run_gru(self, z_x: np.ndarray, h_t: np.ndarray, sequence: np.ndarray | None,
                 skipped: np.ndarray | None) -> None:
        H = self.units
        z_h = np.empty((len(h_t), 3 * H), dtype=np.float32)
        gates = np.empty((len(h_t), 2 * H), dtype=np.float32)
        h_tilde_t = np.empty((len(h_t), H), dtype=np.float32)
        z_t, r_t = gates[:, :H], gates[:, H:]
        for t in range(z_x.shape[1]):
            held = _held(skipped, t, h_t)
            np.matmul(h_t, self.U, out=z_h)
            z_h += self.b_h                                  # h_{t-1} U + b_h, all three blocks
            np.add(z_x[:, t, :2 * H], z_h[:, :2 * H], out=gates)
            _sigmoid_(gates)                                 # z_t, r_t
            np.multiply(r_t, z_h[:, 2 * H:], out=h_tilde_t)  # r_t * (h_{t-1} U_h + b_hh)
            h_tilde_t += z_x[:, t, 2 * H:]
            np.tanh(h_tilde_t, out=h_tilde_t)                # h~_t
            h_t -= h_tilde_t                                 # h_t = z_t * h_{t-1} + (1 - z_t) * h~_t
            h_t *= z_t                                       #     = z_t * (h_{t-1} - h~_t) + h~_t
            h_t += h_tilde_t
            _restore(held, h_t)
            if sequence is not None:
                sequence[:, t] = h_t


def _held(skipped: np.ndarray | None, t: int, *state: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """Rows that skip step t (masked padding) and their state before it, or None when none skips."""
    if skipped is None or not skipped[:, t].any():
        return None
    rows = skipped[:, t]
    return rows, [vector[rows] for vector in state]


def _restore(held: tuple[np.ndarray, list[np.ndarray]] | None, *state: np.ndarray) -> None:
    """A skipped step leaves the state as it was: h_t = h_{t-1}, C_t = C_{t-1} on those rows."""
    if held is not None:
        rows, before = held
        for vector, value in zip(state, before):
            vector[rows] = value


class NumpyLSTM:
    """Embedding -> recurrent stack -> hidden Dense layers -> Dense(1, sigmoid) or Dense(C, softmax) in
    NumPy; one instance is not thread-safe (the padding table)."""

    name = "numpy"
    thread_safe = False

    def __init__(self, model: str | Path | bytes | dict[str, np.ndarray], entry: dict[str, Any] | None = None,
                 *, threads: int | None = None, padding_states: PaddingStates | None = None) -> None:
        # `threads`: chunks run at once; BLAS keeps its own setting (OPENBLAS_NUM_THREADS), best 1 here.
        weights = model if isinstance(model, dict) else load_weights(model)
        _check_shapes(weights)
        self.stack = _stack_of(weights)
        self.units = self.stack[0].units
        self.vocab_size = weights["embedding"].shape[0]
        self.embedding = np.ascontiguousarray(weights["embedding"], dtype=np.float32)
        self.layers = [
            {direction: _Direction.from_weights(layer, *(weights[family.weight_key(self.stack, index, direction, part)]
                                                         for part in family.WEIGHT_PARTS))
             for direction in layer.directions}
            for index, layer in enumerate(self.stack)]
        self.hidden = [_HiddenDense(dense.activation, *(np.ascontiguousarray(weights[family.hidden_key(
                           index, dense.activation, part)], dtype=np.float32) for part in family.DENSE_PARTS))
                       for index, dense in enumerate(_hidden_of(weights))]
        # One column: sigmoid(h w + b), the probability of label 1; C columns: softmax(h W + b).
        self.mask_zero = bool(weights.get(family.MASK_ZERO_KEY, 0.0))  # padding steps skipped, as Keras does
        self.width = int(weights["dense_kernel"].shape[1])
        if self.width == 1:
            self.dense_w = weights["dense_kernel"].astype(np.float32).reshape(-1)
            self.dense_b = float(weights["dense_bias"].reshape(-1)[0])
        else:
            self.dense_w = np.ascontiguousarray(weights["dense_kernel"], dtype=np.float32)
            self.dense_b = weights["dense_bias"].astype(np.float32).reshape(-1)
        # A stack with a backward direction cannot skip its padding: it always runs the padded way.
        self.skips_padding = family.fast_path_applies(self.stack)
        self._roles = family.state_roles(self.stack) if self.skips_padding else []
        self._padding_states: dict[str, np.ndarray] | None = None
        if padding_states is not None and self.skips_padding:
            if set(padding_states.roles) != set(self._roles) or any(
                    padding_states.tables[role].shape[1] != self.stack[family.role_layer(role)[0]].units
                    for role in self._roles):
                raise BundleError(f"padding_states.npz holds the states {', '.join(padding_states.roles)} but "
                                  f"weights.npz a {family.describe(self.stack)}: the bundle is inconsistent; "
                                  "re-export it")
            # The bundle's table, computed at export by Keras' own cells: no start-up loop here.
            self._padding_states = dict(padding_states.tables)
        self.fast_path = padding_states is not None and self.skips_padding
        self._workers = RowWorkers(tuning.row_workers(self.name, threads))
        self._closed = False

    @classmethod
    def unsupported_reason(cls, entry: dict[str, Any]) -> str | None:
        if entry.get("precision") != "fp32":
            return (f"the numpy backend runs the float32 weights of weights.npz, not a "
                    f"{entry.get('precision')} model")
        return None

    def predict_ids(self, ids: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        """int ids [n, steps] -> float32 probabilities, [n] (label 1) or [n, C] (edgelstm.core.outputs);
        `steps` as in base.Backend."""
        if self._closed:
            raise BackendUnavailableError("the numpy backend was closed")
        ids = np.asarray(ids)
        self._padding_table(ids.shape[1])  # filled here, so the workers only read it
        if len(ids) == 1:  # batch 1: the forward pass itself, no ordering or chunks
            return self._forward(ids)
        out = np.empty(scores_shape(len(ids), self.width), dtype=np.float32)
        # Rows sorted by length, so each chunk starts near its own first real token (results do
        # not depend on the grouping: every row runs the same steps from the same states).
        if self.skips_padding:
            order = np.argsort(steps_needed(ids) if steps is None else steps, kind="stable")
        else:
            order = np.arange(len(ids))

        def run_chunk(slot: int, rows: np.ndarray) -> None:
            out[rows] = self._forward(ids[rows])

        self._workers.run(run_chunk, [order[start:start + CHUNK_ROWS] for start in range(0, len(ids), CHUNK_ROWS)])
        return out

    def bare_call(self, ids: np.ndarray) -> Callable[[], object]:
        """base.Backend.bare_call: the forward pass itself (numpy is this backend's interpreter)."""
        ids = np.asarray(ids)
        self._padding_table(ids.shape[1])
        return lambda: self._forward(ids)

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        rows, steps = ids.shape
        first = self._first_real_step(ids) if self.skips_padding else 0
        x = self.embedding[ids[:, first:]]
        skipped = ids[:, first:] == PADDING_ID if self.mask_zero else None
        for index, layer in enumerate(self.layers):
            last = index == len(self.layers) - 1
            x = self._run_layer(index, layer, x, first, last=last, skipped=skipped)
        for dense in self.hidden:
            x = dense.apply(x)
        logits = (x @ self.dense_w + self.dense_b).astype(np.float32)
        if self.width == 1:
            return _sigmoid_(logits)
        return as_scores(_softmax_(logits))

    def _run_layer(self, index: int, layer: dict[str, _Direction], x: np.ndarray, first: int, *,
                   last: bool, skipped: np.ndarray | None = None) -> np.ndarray:
        """One layer over x [rows, steps, in]: its last state [rows, out] on top, else its sequence [rows, steps, out]."""
        rows, steps = x.shape[:2]
        outputs = []
        for direction, cell in layer.items():
            backward = direction == BACKWARD
            state = cell.zero_state(rows) if backward else self._start_state(index, cell, first, rows)
            sequence = None if last else np.empty((rows, steps, cell.units), np.float32)
            z_x = cell.project(x[:, ::-1] if backward else x)
            cell.run(z_x, state, sequence, None if skipped is None else skipped[:, ::-1] if backward else skipped)
            if last:
                outputs.append(state[0])
            else:  # the backward sequence read back in time order, as Keras' Bidirectional hands it on
                outputs.append(sequence[:, ::-1] if backward else sequence)
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=-1)

    def _first_real_step(self, ids: np.ndarray) -> int:
        """Number of leading steps that are padding in every row (front padding, as the tokenizer pads)."""
        real = np.flatnonzero((ids != PADDING_ID).any(axis=0))
        return int(real[0]) if len(real) else ids.shape[1]

    def _start_state(self, index: int, cell: _Direction, first: int, rows: int) -> list[np.ndarray]:
        """A forward layer's state after `first` padding tokens, from the bundle's table or one computed once."""
        if not self.skips_padding:
            return cell.zero_state(rows)
        tables = self._padding_table(first)
        return [np.repeat(tables[family.state_role(index, state)][first][None, :], rows, axis=0)
                for state in cell.state_names]

    def _padding_table(self, steps: int) -> dict[str, np.ndarray]:
        """The states after 0..steps padding tokens: the bundle's, else computed once."""
        if not self.skips_padding:
            return {}
        if self._padding_states is None or len(self._padding_states["h0"]) <= steps:
            self._padding_states = self._padding_run(steps)
        return self._padding_states

    def _padding_run(self, steps: int) -> dict[str, np.ndarray]:
        """States after 0..steps padding tokens, layer by layer: the same for every text, so computed once."""
        cells = [layer[family.FORWARD] for layer in self.layers]
        tables = {role: np.zeros((steps + 1, self.stack[family.role_layer(role)[0]].units), np.float32)
                  for role in self._roles}
        if self.mask_zero:  # every padding step is skipped: the zero state throughout
            return tables
        states = [cell.zero_state(1) for cell in cells]
        pad = self.embedding[PADDING_ID][None, None, :]
        for t in range(steps):
            x = pad
            for index, cell in enumerate(cells):
                sequence = np.empty((1, 1, cell.units), np.float32)
                cell.run(cell.project(x), states[index], sequence)
                x = sequence
                for state, value in zip(cell.state_names, states[index]):
                    tables[family.state_role(index, state)][t + 1] = value[0]
        return tables

    def close(self) -> None:
        self._workers.close()  # waits for chunks in flight before the weights go
        self._closed = True
        self.embedding = self.dense_w = None  # type: ignore[assignment]
        self.layers, self.hidden = [], []
        self._padding_states = None


BACKEND = NumpyLSTM
