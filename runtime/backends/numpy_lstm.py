"""The model's forward pass in plain NumPy: runs anywhere numpy does, 32-bit Pi OS included.

It reads the float32 weights of `weights.npz` (Keras gate order i, f, c, o), so it
serves the float32 variants only. One step of the LSTM, in the seed's names:

    z_t   = x_t W + h_{t-1} U + b            split into the four gates
    i_t   = sigmoid(z_i)                      input gate
    f_t   = sigmoid(z_f)                      forget gate
    c~_t  = tanh(z_c)                         candidate cell state (c_tilde_t)
    o_t   = sigmoid(z_o)                      output gate
    C_t   = f_t * C_{t-1} + i_t * c~_t
    h_t   = o_t * tanh(C_t)

and the classifier head is sigmoid(h_T w_dense + b_dense).

Why it is fast enough (about 2 ms for 200 steps of LSTM 128 on one x86 core):
the input projections x_t W of all steps are one matrix product; the gate columns
are reordered once to i, f, o, c so the three sigmoids are one call on a contiguous
slice; every step writes into buffers allocated once; and the state after k
leading padding tokens does not depend on the text, so it is read from the bundle's
padding_states.npz (or computed once when a bundle has none) and a short, front-padded
text starts from it instead of stepping through its padding; a batch is sorted by length
so each chunk starts near its own first real token.

`threads=N` runs up to N of a batch's 32-row chunks at once (runtime/tuning.py): numpy
releases the GIL inside each product, so on 2 cores two chunks take about 0.75x the time
of one after the other. The chunks are those of one worker (a chunk's start state depends
on its rows), so results are identical; a batch of one chunk runs on the calling thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core.errors import BackendUnavailableError, BundleError
from edgelstm.runtime import tuning
from edgelstm.runtime.backends._workers import RowWorkers
from edgelstm.runtime.padding import PaddingStates, steps_needed
from edgelstm.runtime.safeload import load_npz

WEIGHT_NAMES = ("embedding", "lstm_kernel", "lstm_recurrent_kernel", "lstm_bias", "dense_kernel", "dense_bias")
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


def load_weights(source: str | Path | bytes) -> dict[str, np.ndarray]:
    """The six float32 arrays of weights.npz, with their shapes checked against each other."""
    if not isinstance(source, (bytes, bytearray)):
        try:
            source = Path(source).read_bytes()
        except OSError as error:
            raise BundleError(f"cannot read weights.npz: {error.strerror}") from None
    expect = {name: ("f", 1 if name.endswith("bias") else 2) for name in WEIGHT_NAMES}
    arrays = load_npz(bytes(source), "weights.npz", expect=expect, required=WEIGHT_NAMES)
    weights = {name: np.asarray(arrays[name], dtype=np.float32) for name in WEIGHT_NAMES}
    _check_shapes(weights)
    return weights


def _check_shapes(w: dict[str, np.ndarray]) -> None:
    vocab, embed = w["embedding"].shape
    units = w["lstm_recurrent_kernel"].shape[0]
    expected = {"lstm_kernel": (embed, 4 * units), "lstm_recurrent_kernel": (units, 4 * units),
                "lstm_bias": (4 * units,), "dense_kernel": (units, 1), "dense_bias": (1,)}
    for name, shape in expected.items():
        if w[name].shape != shape:
            raise BundleError(f"weights.npz: {name} has shape {w[name].shape}, expected {shape} "
                              f"for embedding [{vocab}, {embed}] and LSTM {units}")


def _ifco_to_ifoc(matrix: np.ndarray, units: int) -> np.ndarray:
    """Reorder gate columns from Keras' i, f, c, o to i, f, o, c: the sigmoids become one slice."""
    i, f, c, o = (matrix[..., k * units:(k + 1) * units] for k in range(4))
    return np.ascontiguousarray(np.concatenate([i, f, o, c], axis=-1))


class NumpyLSTM:
    """Embedding -> LSTM -> Dense(1, sigmoid) in NumPy; one instance is not thread-safe (the padding table)."""

    name = "numpy"
    thread_safe = False

    def __init__(self, model: str | Path | bytes | dict[str, np.ndarray], entry: dict[str, Any] | None = None,
                 *, threads: int | None = None, padding_states: PaddingStates | None = None) -> None:
        # `threads`: chunks run at once; BLAS keeps its own setting (OPENBLAS_NUM_THREADS), best 1 here.
        weights = model if isinstance(model, dict) else load_weights(model)
        _check_shapes(weights)
        self.units = weights["lstm_recurrent_kernel"].shape[0]
        self.vocab_size = weights["embedding"].shape[0]
        self.embedding = np.ascontiguousarray(weights["embedding"], dtype=np.float32)
        self.W = _ifco_to_ifoc(weights["lstm_kernel"].astype(np.float32), self.units)
        self.U = _ifco_to_ifoc(weights["lstm_recurrent_kernel"].astype(np.float32), self.units)
        self.b = _ifco_to_ifoc(weights["lstm_bias"].astype(np.float32), self.units)
        self.dense_w = weights["dense_kernel"].astype(np.float32).reshape(-1)
        self.dense_b = float(weights["dense_bias"].reshape(-1)[0])
        self._padding_states: tuple[np.ndarray, np.ndarray] | None = None
        if padding_states is not None:
            if padding_states.units != self.units:
                raise BundleError(f"padding_states.npz holds states of {padding_states.units} units, weights.npz "
                                  f"an LSTM of {self.units}: the bundle is inconsistent; re-export it")
            # The bundle's table, computed at export by Keras' own cell: no start-up loop here.
            self._padding_states = (padding_states.h, padding_states.c)
        self.fast_path = padding_states is not None
        self._workers = RowWorkers(tuning.row_workers(self.name, threads))
        self._closed = False

    @classmethod
    def unsupported_reason(cls, entry: dict[str, Any]) -> str | None:
        if entry.get("precision") != "fp32":
            return (f"the numpy backend runs the float32 weights of weights.npz, not a "
                    f"{entry.get('precision')} model")
        return None

    def predict_ids(self, ids: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        """int ids [n, steps] -> float32 probabilities of label 1, shape [n]; `steps` as in base.Backend."""
        if self._closed:
            raise BackendUnavailableError("the numpy backend was closed")
        ids = np.asarray(ids)
        out = np.empty(len(ids), dtype=np.float32)
        # Rows sorted by length, so each chunk starts near its own first real token (results do
        # not depend on the grouping: every row runs the same steps from the same states).
        if len(ids) > 1:
            order = np.argsort(steps_needed(ids) if steps is None else steps, kind="stable")
        else:
            order = np.arange(len(ids))
        self._padding_table(ids.shape[1])  # filled here, so the workers only read it

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
        first = self._first_real_step(ids)
        h_t, C_t = self._start_state(first, steps, rows)
        # Input projections of every remaining step in one product: [rows * steps', E] x [E, 4H].
        x = self.embedding[ids[:, first:]]
        z_x = (x.reshape(-1, x.shape[-1]) @ self.W).reshape(rows, steps - first, 4 * self.units)
        z_x += self.b
        self._run_steps(z_x, h_t, C_t)
        logits = h_t @ self.dense_w + self.dense_b
        return _sigmoid_(logits.astype(np.float32))

    def _first_real_step(self, ids: np.ndarray) -> int:
        """Number of leading steps that are padding in every row (front padding, as the tokenizer pads)."""
        real = np.flatnonzero((ids != PADDING_ID).any(axis=0))
        return int(real[0]) if len(real) else ids.shape[1]

    def _start_state(self, first: int, steps: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, C) after `first` padding tokens, from the bundle's table or one computed once."""
        h_table, C_table = self._padding_table(steps)
        return (np.repeat(h_table[first][None, :], rows, axis=0),
                np.repeat(C_table[first][None, :], rows, axis=0))

    def _padding_table(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The states after 0..steps padding tokens: the bundle's, else computed once."""
        if self._padding_states is None or len(self._padding_states[0]) <= steps:
            self._padding_states = self._padding_run(steps)
        return self._padding_states

    def _padding_run(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """States after 0..steps padding tokens: the same for every text, so computed once."""
        H = self.units
        z_pad = np.broadcast_to(self.embedding[PADDING_ID] @ self.W + self.b, (1, steps, 4 * H)).copy()
        h_table = np.zeros((steps + 1, H), dtype=np.float32)
        C_table = np.zeros((steps + 1, H), dtype=np.float32)
        h_t, C_t = np.zeros((1, H), np.float32), np.zeros((1, H), np.float32)
        for t in range(steps):
            self._run_steps(z_pad[:, t:t + 1], h_t, C_t)
            h_table[t + 1], C_table[t + 1] = h_t[0], C_t[0]
        return h_table, C_table

    def _run_steps(self, z_x: np.ndarray, h_t: np.ndarray, C_t: np.ndarray) -> None:
        """Advance (h_t, C_t) in place over the precomputed input projections z_x [rows, steps, 4H]."""
        H = self.units
        z = np.empty((len(h_t), 4 * H), dtype=np.float32)
        tmp = np.empty((len(h_t), H), dtype=np.float32)
        # Views into z, named as in the equations; gate columns are in i, f, o, c order.
        i_t, f_t, o_t, c_tilde_t = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        sigmoid_gates = z[:, :3 * H]
        for t in range(z_x.shape[1]):
            np.matmul(h_t, self.U, out=z)
            z += z_x[:, t]
            _sigmoid_(sigmoid_gates)          # i_t, f_t, o_t
            np.tanh(c_tilde_t, out=c_tilde_t)  # c~_t
            C_t *= f_t                         # C_t = f_t * C_{t-1} + i_t * c~_t
            np.multiply(i_t, c_tilde_t, out=tmp)
            C_t += tmp
            np.tanh(C_t, out=tmp)              # h_t = o_t * tanh(C_t)
            np.multiply(o_t, tmp, out=h_t)

    def close(self) -> None:
        self._workers.close()  # waits for chunks in flight before the weights go
        self._closed = True
        self.embedding = self.W = self.U = self.b = self.dense_w = None  # type: ignore[assignment]
        self._padding_states = None


BACKEND = NumpyLSTM
