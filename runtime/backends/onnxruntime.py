"""onnxruntime: runs the ONNX variants, including the com.microsoft DynamicQuantizeLSTM of onnx-dynint8.

An InferenceSession may be run from many threads at once, so `thread_safe = True`.
The exported models have a dynamic batch; a large batch still runs in chunks so
memory stays bounded. Dynamically quantized models run one row at a time: they
pick one activation scale per call over the whole batch, so a text's probability
would otherwise depend on the texts batched with it (by up to 1e-2), and at
batch 1 they are no slower per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.runtime.errors import BackendUnavailableError, BundleError

CHUNK_ROWS = 64
_DTYPES = {"tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(float)": np.float32}
# 3 = errors only: the session's warnings about unused initializers are not the user's concern.
_LOG_SEVERITY = 3


class OnnxRuntime:
    name = "onnxruntime"
    thread_safe = True

    def __init__(self, model: str | Path | bytes, entry: dict[str, Any], *, threads: int | None = None) -> None:
        import onnxruntime

        self.file = entry.get("file", "model")
        content = bytes(model) if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = _LOG_SEVERITY
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        try:
            # From bytes: the session keeps no file open, and parses exactly the bytes that were checked.
            self._session = onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph/NotImplemented types
            raise BundleError(f"onnxruntime {onnxruntime.__version__} cannot load {self.file}: "
                              f"{str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}") from None
        self._input_name, self._input_dtype, self.maxlen = self._input_details()
        self._output_name = self._session.get_outputs()[0].name
        self._chunk_rows = 1 if _quantizes_per_call(entry) else CHUNK_ROWS

    @classmethod
    def unsupported_reason(cls, entry: dict[str, Any]) -> str | None:
        if entry.get("format") != "onnx":
            return f"onnxruntime runs .onnx models, not {entry.get('format')}"
        return None

    def _input_details(self) -> tuple[str, type, int | None]:
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(self._session.get_outputs()) != 1:
            raise BundleError(f"{self.file} has {len(inputs)} inputs and {len(self._session.get_outputs())} outputs; "
                              "an edgelstm model has one of each")
        dtype = _DTYPES.get(inputs[0].type)
        if dtype is None:
            raise BundleError(f"{self.file} takes {inputs[0].type}; an edgelstm model takes int32 or int64 ids")
        steps = inputs[0].shape[-1]
        return inputs[0].name, dtype, steps if isinstance(steps, int) else None

    def predict_ids(self, ids: np.ndarray) -> np.ndarray:
        """int ids [n, maxlen] -> float32 probabilities of label 1 [n]."""
        session = self._session
        if session is None:
            raise BackendUnavailableError("the onnxruntime backend was closed")
        ids = np.asarray(ids, dtype=self._input_dtype)
        out = np.empty(len(ids), dtype=np.float32)
        for start in range(0, len(ids), self._chunk_rows):
            chunk = ids[start:start + self._chunk_rows]
            (probs,) = session.run([self._output_name], {self._input_name: chunk})
            out[start:start + len(chunk)] = np.asarray(probs, dtype=np.float32).reshape(len(chunk))
        return out

    def close(self) -> None:
        self._session = None


def _quantizes_per_call(entry: dict[str, Any]) -> bool:
    ops = " ".join(str(op) for op in entry.get("ops") or [])
    return entry.get("precision") == "dynint8" or "DynamicQuantize" in ops


BACKEND = OnnxRuntime
