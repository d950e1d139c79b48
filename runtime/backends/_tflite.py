"""What the two TFLite interpreters (ai-edge-litert, tflite-runtime) share: same API, different package.

A TFLite interpreter is not thread-safe (set_tensor/invoke/get_tensor share
state), so `thread_safe = False` and the Classifier serializes calls. Exported
LSTM models have a fixed batch of 1 (the converter needs a static shape and
XNNPACK cannot resize them), so a batch runs row by row. The fused
UNIDIRECTIONAL_SEQUENCE_LSTM keeps its state in variable tensors that persist
between invocations, so every row starts with `reset_all_variables()`; without
it each text would continue from the previous text's state.

The keras3-while models also take the LSTM's initial state (h0, c0) and a dynamic
length: given the bundle's padding states, each row runs only its real tokens
(runtime/padding.py); the ids input is resized only when the length changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.runtime.errors import BackendUnavailableError, BundleError
from edgelstm.runtime.padding import FAST_PATH_INPUTS, PaddingStates, steps_needed

# Messages of interpreters that meet an op (or op version) newer than they know.
_TOO_NEW_MARKERS = ("Didn't find op for builtin opcode", "Encountered unresolved custom op", "Registration failed")


def read_model(model: str | Path | bytes) -> bytes:
    """Model bytes, read once: the interpreter parses memory, keeping no file open or mapped."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    return Path(model).read_bytes()


class TFLiteBackend:
    """Runs a .tflite model given an `Interpreter` class; subclasses say which package provides it."""

    name = "tflite"  # the registry name in base.BACKENDS
    distribution = ""  # the pip distribution, for its version in messages
    thread_safe = False

    def __init__(self, model: str | Path | bytes, entry: dict[str, Any], *, threads: int | None = None,
                 padding_states: PaddingStates | None = None) -> None:
        interpreter_class = self._interpreter_class()
        self.file = entry.get("file", "model")
        self._interpreter = self._create(interpreter_class, read_model(model), threads)
        self._inputs, self._output = self._io_details(entry)
        self._input = self._inputs["ids"]
        self._reset = bool(entry.get("reset_variables", True))
        # The fast path needs a model with state inputs and the bundle's table; else the padded way.
        self.fast_path = padding_states is not None and "h0" in self._inputs
        self._states = padding_states if self.fast_path else None
        self._zero_state = np.zeros((1, int(self._inputs["h0"]["shape"][-1])), np.float32) if "h0" in self._inputs else None
        self._steps = int(self._input["shape"][-1])  # the ids length the interpreter is allocated for

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

    def _create(self, interpreter_class: Any, content: bytes, threads: int | None) -> Any:
        try:
            interpreter = interpreter_class(model_content=content, num_threads=threads)
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

    def _io_details(self, entry: dict[str, Any]) -> tuple[dict[str, dict], dict]:
        """Inputs by role ("ids", and "h0", "c0" for a fast-path model), and the output."""
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(outputs) != 1:
            raise BundleError(f"{self.file} has {len(outputs)} outputs; an edgelstm model has one")
        if len(inputs) == 1:
            return {"ids": inputs[0]}, outputs[0]
        by_name = {detail["name"]: detail for detail in inputs}
        names = (entry.get("fast_path") or {}).get("inputs") or {}
        roles = {role: by_name.get(names.get(role, "")) for role in FAST_PATH_INPUTS}
        if len(inputs) != len(FAST_PATH_INPUTS) or None in roles.values():
            raise BundleError(f"{self.file} has inputs {sorted(by_name)}; an edgelstm model has one (ids) or, with "
                              f"the manifest's fast_path.inputs naming them, three (ids, h0, c0)")
        return roles, outputs[0]

    @property
    def maxlen(self) -> int | None:
        """Fixed ids length of a single-input model; None when the length is dynamic."""
        if "h0" in self._inputs:
            return None
        return int(self._input["shape"][-1])

    def predict_ids(self, ids: np.ndarray) -> np.ndarray:
        """int ids [n, maxlen] -> float32 probabilities of label 1 [n], one invoke per row.

        On the fast path each row runs only its real tokens, from the state its padding leads to.
        """
        if self._interpreter is None:
            raise BackendUnavailableError(f"the {self.name} backend was closed")
        ids = np.asarray(ids, dtype=self._input["dtype"])
        maxlen = ids.shape[1]
        steps = steps_needed(ids) if self._states is not None else np.full(len(ids), maxlen)
        out = np.empty(len(ids), dtype=np.float32)
        for row in range(len(ids)):
            out[row] = self._invoke(ids[row:row + 1, maxlen - int(steps[row]):])
        return out

    def _invoke(self, ids: np.ndarray) -> float:
        interpreter = self._interpreter
        if self._reset:
            interpreter.reset_all_variables()
        if ids.shape[1] != self._steps:  # resizing re-plans the graph: only when the length changes
            interpreter.resize_tensor_input(self._input["index"], list(ids.shape))
            interpreter.allocate_tensors()
            self._steps = ids.shape[1]
        interpreter.set_tensor(self._input["index"], ids)
        if self._zero_state is not None:
            if self._states is not None:
                h0, c0 = self._states.start(ids.shape[1], 1)
            else:
                h0 = c0 = self._zero_state
            interpreter.set_tensor(self._inputs["h0"]["index"], h0)
            interpreter.set_tensor(self._inputs["c0"]["index"], c0)
        interpreter.invoke()
        return float(self._dequantize(interpreter.get_tensor(self._output["index"])).reshape(-1)[0])

    def _dequantize(self, value: np.ndarray) -> np.ndarray:
        # A fully integer model may hand out int8 probabilities with a scale and zero point.
        scale, zero_point = self._output.get("quantization", (0.0, 0))
        if scale and np.issubdtype(value.dtype, np.integer):
            return (value.astype(np.float32) - zero_point) * scale
        return value.astype(np.float32)

    def close(self) -> None:
        # Dropping the last reference frees the interpreter and the model bytes it reads.
        self._interpreter = None
