"""onnxruntime: runs the ONNX variants, including the com.microsoft DynamicQuantizeLSTM of onnx-dynint8.

An InferenceSession may be run from many threads at once, so `thread_safe = True`.
The exported models have a dynamic batch; a large batch still runs in chunks so
memory stays bounded. Dynamically quantized models run one row at a time: they
pick one activation scale per call over the whole batch, so a text's probability
would otherwise depend on the texts batched with it (by up to 1e-2), and at
batch 1 they are no slower per row.

With the bundle's padding states (the fast path, runtime/padding.py) a batch is
sorted by real length and cut into groups by the cost model of runtime/tuning.py;
each group runs only its longest member's real tokens.

`threads=N` is N row workers (runtime/tuning.py): the session runs with one intra-op
thread, and a batch's work units (rows for dynint8, length groups or chunks for fp32)
run N at a time from a small pool sharing the session (`run` is thread-safe and
releases the GIL). The units are the ones a single worker runs, so results are identical.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core import family
from edgelstm.core.errors import BackendUnavailableError, BundleError
from edgelstm.core.outputs import as_scores, scores_shape
from edgelstm.runtime import tuning
from edgelstm.runtime.backends._workers import RowWorkers
from edgelstm.runtime.padding import IDS_ROLE, PaddingStates, fast_path_roles, plan_groups, steps_needed

CHUNK_ROWS = 64
_DTYPES = {"tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(float)": np.float32}
# 3 = errors only: the session's warnings about unused initializers are not the user's concern.
_LOG_SEVERITY = 3


class OnnxRuntime:
    name = "onnxruntime"
    thread_safe = True

    def __init__(self, model: str | Path | bytes, entry: dict[str, Any], *, threads: int | None = None,
                 padding_states: PaddingStates | None = None) -> None:
        import onnxruntime

        self.file = entry.get("file", "model")
        content = bytes(model) if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = _LOG_SEVERITY
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = tuning.INTRA_OP_THREADS
        try:
            # From bytes: the session keeps no file open, and parses exactly the bytes that were checked.
            self._session = onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph/NotImplemented types
            raise BundleError(f"onnxruntime {onnxruntime.__version__} cannot load {self.file}: "
                              f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}") from None
        self._input_name, self._input_dtype, self.maxlen = self._input_details()
        self._state_units = self._state_inputs()
        self._output_name = self._session.get_outputs()[0].name
        self._output_names = [self._output_name]  # what every run asks for, built once
        # The padded way's start for one row, shared by every call (a session only reads its inputs).
        self._zero_row = {role: np.zeros((1, units), np.float32) for role, units in self._state_units.items()}
        width = self._session.get_outputs()[0].shape[-1]
        self.width = width if isinstance(width, int) else 1  # output columns: 1 (sigmoid) or C (softmax)
        self._chunk_rows = 1 if _quantizes_per_call(entry) else CHUNK_ROWS
        # The fast path needs a model with state inputs and the bundle's table; else the padded way.
        self.fast_path = padding_states is not None and bool(self._state_units)
        self._states = padding_states if self.fast_path else None
        if self._states is not None and set(self._states.roles) != set(self._state_units):
            raise BundleError(f"{self.file} takes the states {', '.join(self._state_units)} but the padding table "
                              f"holds {', '.join(self._states.roles)}: the bundle is inconsistent; re-export it")
        self._workers = RowWorkers(tuning.row_workers(self.name, threads))

    @classmethod
    def unsupported_reason(cls, entry: dict[str, Any]) -> str | None:
        if entry.get("format") != "onnx":
            return f"onnxruntime runs .onnx models, not {entry.get('format')}"
        return None

    def _input_details(self) -> tuple[str, type, int | None]:
        inputs = {value.name: value for value in self._session.get_inputs()}
        names = sorted(inputs)
        known_inputs = len(names) == 1 or fast_path_roles(names)
        if not known_inputs or len(self._session.get_outputs()) != 1:
            raise BundleError(f"{self.file} has inputs {names} and {len(self._session.get_outputs())} outputs; an "
                              "edgelstm model has one output and the inputs ids (or ids and the states h0, c0, ... "
                              "for the fast path)")
        ids = inputs["ids"] if "ids" in inputs else next(iter(inputs.values()))
        dtype = _DTYPES.get(ids.type)
        if dtype is None:
            raise BundleError(f"{self.file} takes {ids.type}; an edgelstm model takes int32 or int64 ids")
        steps = ids.shape[-1]
        return ids.name, dtype, steps if isinstance(steps, int) else None

    def _state_inputs(self) -> dict[str, int]:
        """State input -> units of a fast-path model, layer by layer; empty for a single-input (padded) model."""
        inputs = {value.name: value for value in self._session.get_inputs() if value.name != IDS_ROLE}
        if "h0" not in inputs:
            return {}
        return {role: int(inputs[role].shape[-1]) for role in family.ordered_roles(inputs)}

    def predict_ids(self, ids: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        """int ids [n, maxlen] -> float32 probabilities, [n] (label 1) or [n, C] (edgelstm.core.outputs);
        `steps` as in base.Backend."""
        session = self._session
        if session is None:
            raise BackendUnavailableError("the onnxruntime backend was closed")
        ids = np.asarray(ids, dtype=self._input_dtype)
        if self._states is None:
            steps = None  # the padded way runs every step
        elif steps is None:
            steps = steps_needed(ids)
        if len(ids) == 1:  # batch 1: one call, nothing to group or share out, no reduction over `steps`
            return self._run(session, ids, None) if steps is None else self._run_last(session, ids, int(steps[0]))
        out = np.empty(scores_shape(len(ids), self.width), dtype=np.float32)

        def run_unit(slot: int, rows: np.ndarray) -> None:  # the session is shared: `slot` is not needed
            out[rows] = self._run_unit(session, ids, steps, rows)

        self._workers.run(run_unit, self._units(ids, steps))
        return out

    def _units(self, ids: np.ndarray, steps: np.ndarray | None) -> list[np.ndarray]:
        """Row indices of each call: length groups on the fast path, else chunks (single rows for dynint8)."""
        if steps is not None:
            return plan_groups(steps, self._chunk_rows, call_us=tuning.CALL_US, step_us=tuning.STEP_US,
                               row_step_us=tuning.ROW_STEP_US)
        size = self._chunk_rows
        return [np.arange(start, min(start + size, len(ids))) for start in range(0, len(ids), size)]

    def _run_unit(self, session: Any, ids: np.ndarray, steps: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
        """One call; on the fast path it runs only the group's longest real length."""
        if steps is None:
            return self._run(session, ids[rows], None)
        return self._run_last(session, ids[rows], int(steps[rows].max()))

    def _run_last(self, session: Any, unit: np.ndarray, steps: int) -> np.ndarray:
        """The fast path: the unit's last `steps` tokens, from the state its padding leads to."""
        return self._run(session, unit[:, unit.shape[1] - steps:], self._states.start(steps, len(unit)))

    def bare_call(self, ids: np.ndarray) -> Callable[[], object]:
        """base.Backend.bare_call: one session.run on the feed `_run` would build."""
        ids = np.asarray(ids, dtype=self._input_dtype)
        feed = {self._input_name: np.ascontiguousarray(ids)}
        if self._states is not None:
            steps = int(steps_needed(ids)[0])
            feed[self._input_name] = np.ascontiguousarray(ids[:, ids.shape[1] - steps:])
            feed.update(self._states.start(steps, 1))
        else:
            feed.update(self._zero_states(1))
        session, names = self._session, self._output_names
        return lambda: session.run(names, feed)

    def _zero_states(self, rows: int) -> dict[str, np.ndarray]:
        """The padded way: every layer starts from Keras' zero state (one row's, allocated once)."""
        if rows == 1:
            return self._zero_row
        return {role: np.zeros((rows, units), np.float32) for role, units in self._state_units.items()}

    def _run(self, session: Any, ids: np.ndarray, states: dict[str, np.ndarray] | None) -> np.ndarray:
        feed = {self._input_name: np.ascontiguousarray(ids)}
        feed.update(self._zero_states(len(ids)) if states is None else states)
        (probs,) = session.run(self._output_names, feed)
        return as_scores(np.asarray(probs).reshape(len(ids), -1))

    def close(self) -> None:
        self._workers.close()  # waits for units in flight before the session goes
        self._session = None


def _quantizes_per_call(entry: dict[str, Any]) -> bool:
    ops = " ".join(str(op) for op in entry.get("ops") or [])
    return entry.get("precision") == "dynint8" or "DynamicQuantize" in ops


BACKEND = OnnxRuntime
