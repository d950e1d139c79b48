"""tflite-runtime 2.14: the last release of the old TFLite interpreter, for devices ai-edge-litert lacks.

It is built against numpy 1: beside numpy 2 it imports, then every interpreter
fails with "_ARRAY_API not found", so that case is refused up front. It also
predates ops the Keras 3 converter emits (the WHILE-loop dynamic-int8 model's
FULLY_CONNECTED version 12): the variant table (core/variants.py) records that
refusal on the route, and `base.reason_unsupported` applies it before loading.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgelstm.core.errors import BackendUnavailableError
from edgelstm.runtime.backends._tflite import TFLiteBackend


def numpy_too_new() -> bool:
    return int(np.__version__.split(".")[0]) >= 2


class TFLiteRuntime(TFLiteBackend):
    name = "tflite-runtime"
    distribution = "tflite-runtime"

    @classmethod
    def _interpreter_class(cls) -> Any:
        if numpy_too_new():
            raise BackendUnavailableError(
                f"tflite-runtime is built against numpy 1 and fails with numpy {np.__version__}: "
                "use it in an environment with numpy<2 (pip install 'edgelstm[tflite-runtime]'), "
                "or use ai-edge-litert (pip install 'edgelstm[litert]')")
        from tflite_runtime.interpreter import Interpreter

        return Interpreter

    @classmethod
    def unsupported_reason(cls, entry: dict[str, Any]) -> str | None:
        reason = super().unsupported_reason(entry)
        if reason:
            return reason
        if numpy_too_new():
            return f"tflite-runtime needs numpy<2 and numpy {np.__version__} is installed"
        return None


BACKEND = TFLiteRuntime
