"""What the two TFLite interpreters (ai-edge-litert, tflite-runtime) share: same API, different package.

A TFLite interpreter is not thread-safe (set_tensor/invoke/get_tensor share
state), so `thread_safe = False` and the Classifier serializes calls. Exported
LSTM models have a fixed batch of 1 (the converter needs a static shape and
XNNPACK cannot resize them), so a batch runs row by row. The fused
UNIDIRECTIONAL_SEQUENCE_LSTM keeps its state in variable tensors that persist
between invocations; files exported now zero them in the graph itself, and a file
whose entry says `reset_variables` (an older export) gets `reset_all_variables()`
before every row, without which each text would continue from the previous one.

The mobile variants read MediaPipe's layout (ids first, padding after, in a longer
buffer; `mediapipe.input_layout` in the manifest) and turn it into the model's
window themselves: a pre-padded row is moved to the front of that buffer here.
Their output is one score per label; for two labels the last one is P(label 1).
A C-class model (C >= 3) gives one probability per label: rows of [n, C] (edgelstm.core.outputs).

The keras3-while models also take the LSTM's initial state (h0, c0) and a dynamic
length: given the bundle's padding states, each row runs only its real tokens
(runtime/padding.py); the ids input is resized only when the length changes.

`threads=N` is N row workers (runtime/tuning.py): N interpreters of one intra-op
thread each, built from the same model bytes; worker k runs rows k, k + N, ... of a
batch on its own interpreter, one row per invoke as with one worker, so results are
identical. Calls stay serialized by the Classifier.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core import family
from edgelstm.core.errors import BackendUnavailableError, BundleError
from edgelstm.core.manifest import POST_PADDED
from edgelstm.core.outputs import as_scores, scores_shape
from edgelstm.runtime import tuning
from edgelstm.runtime.backends._workers import RowWorkers
from edgelstm.runtime.padding import IDS_ROLE, PADDING_ID, PaddingStates, fast_path_roles, steps_needed

# Messages of interpreters that meet an op (or op version) newer than they know.
_TOO_NEW_MARKERS = ("Didn't find op for builtin opcode", "Encountered unresolved custom op", "Registration failed")


# What the interpreter's C++ side prints to stderr on every load: news to no user.
_DELEGATE_NOTICE = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


@contextlib.contextmanager
def _without_delegate_notice() -> Iterator[None]:
    """Capture file descriptor 2 while an interpreter loads; pass on all but the XNNPACK notice.

    The notice comes from C++ (no Python logger, no environment variable turns it off);
    everything else the interpreter prints, a real error included, still reaches stderr.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter (closed descriptor)
        yield
        return
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().splitlines(keepends=True) if line.strip() != _DELEGATE_NOTICE]
            if kept:
                os.write(2, b"".join(kept))


def read_model(model: str | Path | bytes) -> bytes:
    """Model bytes, read once: the interpreter parses memory, keeping no file open or mapped."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    return Path(model).read_bytes()


def _post_padded(ids: np.ndarray, length: int) -> np.ndarray:
    """A pre-padded row [1, maxlen] as MediaPipe feeds it: its real ids first, then padding, [1, length]."""
    real = ids[0][ids[0] != PADDING_ID]
    row = np.full((1, length), PADDING_ID, dtype=ids.dtype)
    row[0, :len(real)] = real
    return row


class TFLiteBackend:
    """Runs a .tflite model given an `Interpreter` class; subclasses say which package provides it."""

    name = "tflite"  # the registry name in base.BACKENDS
    distribution = ""  # the pip distribution, for its version in messages
    thread_safe = False

    def __init__(self, model: str | Path | bytes, entry: dict[str, Any], *, threads: int | None = None,
                 padding_states: PaddingStates | None = None) -> None:
        interpreter_class = self._interpreter_class()
        self.file = entry.get("file", "model")
        content = read_model(model)
        workers = tuning.row_workers(self.name, threads)
        # One interpreter per worker: an interpreter holds the state of the row it runs.
        self._interpreters = [self._create(interpreter_class, content) for _ in range(workers)]
        self._workers = RowWorkers(workers)
        self._inputs, self._output = self._io_details(entry)
        self._input = self._inputs["ids"]
        self._output_scale, self._output_zero_point = self._output.get("quantization", (0.0, 0))
        # Decided once, not per row: a fully integer model hands out int8 scores with a scale.
        self._output_quantized = bool(self._output_scale) and np.issubdtype(self._output["dtype"], np.integer)
        self.width = int(self._output["shape"][-1]) if len(self._output["shape"]) else 1  # 1, 2 (mobile) or C
        self._reset = bool(entry.get("reset_variables", True))
        self._post_padded = (entry.get("mediapipe") or {}).get("input_layout") == POST_PADDED
        # The fast path needs a model with state inputs and the bundle's table; else the padded way.
        self.fast_path = padding_states is not None and "h0" in self._inputs
        self._states = padding_states if self.fast_path else None
        if self._states is not None and set(self._states.roles) != set(self._state_roles):
            raise BundleError(f"{self.file} takes the states {', '.join(self._state_roles)} but the padding table "
                              f"holds {', '.join(self._states.roles)}: the bundle is inconsistent; re-export it")
        # The padded way: every layer starts from Keras' zero state.
        self._zero_states = {role: np.zeros((1, int(self._inputs[role]["shape"][-1])), np.float32)
                             for role in self._state_roles}
        # Per interpreter, the ids length it is allocated for.
        self._steps = [int(self._input["shape"][-1])] * workers
        # Tensor indices every invoke uses, looked up once.
        self._ids_index, self._output_index = self._input["index"], self._output["index"]
        self._state_index = {role: self._inputs[role]["index"] for role in self._state_roles}

    @classmethod
    def _interpreter_class(cls) -> Any:
        raise NotImplementedError

    @classmethod
    def version(cls) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(cls.distribution)
        except PackageNotFoundError:
            return "unknown"

    @classmethod
    def unsupported_reason(cls, entry: dict[str, Any]) -> str | None:
        if entry.get("format") != "tflite":
            return f"{cls.name} runs .tflite models, not {entry.get('format')}"
        return None

    def _create(self, interpreter_class: Any, content: bytes) -> Any:
        try:
            with _without_delegate_notice():
                interpreter = interpreter_class(model_content=content, num_threads=tuning.INTRA_OP_THREADS)
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise self._load_error(error) from None
        return interpreter

    def _load_error(self, error: Exception) -> Exception:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if any(marker in str(error) for marker in _TOO_NEW_MARKERS):
            return BackendUnavailableError(
                f"{self.distribution} {self.version()} cannot load {self.file}: {first} "
                "(the model was converted by a newer TensorFlow than this interpreter knows)")
        return BundleError(f"{self.name} cannot load {self.file}: {first}")

    @property
    def _state_roles(self) -> list[str]:
        return [role for role in self._inputs if role != IDS_ROLE]

    def _io_details(self, entry: dict[str, Any]) -> tuple[dict[str, dict], dict]:
        """Inputs by role ("ids", and the states h0, c0, ... of a fast-path model), and the output."""
        first = self._interpreters[0]  # all interpreters run the same model
        inputs, outputs = first.get_input_details(), first.get_output_details()
        if len(outputs) != 1:
            raise BundleError(f"{self.file} has {len(outputs)} outputs; an edgelstm model has one")
        if len(inputs) == 1:
            return {"ids": inputs[0]}, outputs[0]
        by_name = {detail["name"]: detail for detail in inputs}
        names = (entry.get("fast_path") or {}).get("inputs") or {}
        roles = {role: by_name.get(names[role]) for role in names}
        if not fast_path_roles(list(roles)) or len(inputs) != len(roles) or None in roles.values():
            raise BundleError(f"{self.file} has inputs {sorted(by_name)}; an edgelstm model has one (ids) or, with "
                              f"the manifest's fast_path.inputs naming them, ids and the states (h0, c0, ...)")
        ordered = [IDS_ROLE, *family.ordered_roles(role for role in roles if role != IDS_ROLE)]
        return {role: roles[role] for role in ordered}, outputs[0]

    @property
    def maxlen(self) -> int | None:
        """Fixed ids length of a single-input model; None when the length is dynamic."""
        if "h0" in self._inputs or self._post_padded:
            return None
        return int(self._input["shape"][-1])

    def predict_ids(self, ids: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        """int ids [n, maxlen] -> float32 probabilities, [n] (label 1) or [n, C], one invoke per row.

        On the fast path each row runs only its real tokens, from the state its padding leads
        to; `steps` as in base.Backend.
        """
        if self._interpreters is None:
            raise BackendUnavailableError(f"the {self.name} backend was closed")
        ids = np.asarray(ids, dtype=self._input["dtype"])
        maxlen = ids.shape[1]
        if self._states is None:
            steps = np.full(len(ids), maxlen)  # the padded way runs every step
        elif steps is None:
            steps = steps_needed(ids)
        if len(ids) == 1:  # batch 1: one invoke on the calling thread
            return np.asarray([self._invoke(0, ids[:, maxlen - int(steps[0]):])], dtype=np.float32)
        out = np.empty(scores_shape(len(ids), self.width), dtype=np.float32)

        def run_row(slot: int, row: int) -> None:  # worker `slot` owns interpreter `slot` during the call
            out[row] = self._invoke(slot, ids[row:row + 1, maxlen - int(steps[row]):])

        self._workers.run(run_row, range(len(ids)))
        return out

    def _invoke(self, slot: int, ids: np.ndarray) -> float | np.ndarray:
        """One row on interpreter `slot`, which only this worker uses during the call."""
        interpreter = self._interpreters[slot]
        if self._post_padded:
            ids = _post_padded(ids, int(self._input["shape"][-1]))
        if self._reset:
            interpreter.reset_all_variables()
        if ids.shape[1] != self._steps[slot]:  # resizing re-plans the graph: only when the length changes
            interpreter.resize_tensor_input(self._ids_index, list(ids.shape))
            interpreter.allocate_tensors()
            self._steps[slot] = ids.shape[1]
        interpreter.set_tensor(self._ids_index, ids)
        if self._zero_states:
            states = self._states.start(ids.shape[1], 1) if self._states is not None else self._zero_states
            for role, value in states.items():
                interpreter.set_tensor(self._state_index[role], value)
        interpreter.invoke()
        # One probability, or one score per label (mobile): for two labels P(label 1) is the last
        # either way; C >= 3 labels give the row of C probabilities.
        scores = as_scores(self._dequantize(interpreter.get_tensor(self._output_index)).reshape(1, -1))[0]
        return float(scores) if scores.ndim == 0 else scores

    def bare_call(self, ids: np.ndarray) -> Callable[[], object]:
        """base.Backend.bare_call: set the inputs, invoke, read the output, on interpreter 0
        (with the reset and the resize to the row's length that `_invoke` would do)."""
        ids = np.asarray(ids, dtype=self._input["dtype"])
        if self._states is not None:
            ids = np.ascontiguousarray(ids[:, ids.shape[1] - int(steps_needed(ids)[0]):])
            start = self._states.start(ids.shape[1], 1)
        else:
            start = self._zero_states
        interpreter, steps = self._interpreters[0], self._steps
        ids_index, output_index = self._input["index"], self._output["index"]
        states = [(self._inputs[role]["index"], value) for role, value in start.items()]

        def call() -> object:
            if self._reset:
                interpreter.reset_all_variables()
            if ids.shape[1] != steps[0]:
                interpreter.resize_tensor_input(ids_index, list(ids.shape))
                interpreter.allocate_tensors()
                steps[0] = ids.shape[1]
            interpreter.set_tensor(ids_index, ids)
            for index, value in states:
                interpreter.set_tensor(index, value)
            interpreter.invoke()
            return interpreter.get_tensor(output_index)

        return call

    def _dequantize(self, value: np.ndarray) -> np.ndarray:
        if self._output_quantized:
            return (value.astype(np.float32) - self._output_zero_point) * self._output_scale
        return value.astype(np.float32, copy=False)

    def close(self) -> None:
        # Workers first (none is mid-row then); dropping the last reference frees the
        # interpreters and the model bytes they read.
        self._workers.close()
        self._interpreters = None
