"""tflite-runtime 2.14: the last release of the old TFLite interpreter, for devices ai-edge-litert lacks.

It is built against numpy 1: beside numpy 2 it imports, then every interpreter
fails with "_ARRAY_API not found", so that case is refused up front. It also
predates op versions the Keras 3 converter emits: a dynamic-int8 model with per-channel
int8 dense weights has FULLY_CONNECTED version 12 (the WHILE-route tflite-dynint8 of an
IMDB-sized model; a tiny model whose weights stay float has version 1). The manifest
records each file's op versions, so such a file is refused before loading, by what it holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgelstm.core.errors import BackendUnavailableError
from edgelstm.runtime.backends._tflite import TFLiteBackend

# The first version of an op tflite-runtime 2.14 cannot load, as measured ("Didn't find op for
# builtin opcode 'FULLY_CONNECTED' version '12'"; version 9, per-tensor weights, loads).
TOO_NEW_OP_VERSIONS = {"FULLY_CONNECTED": 12}


def numpy_too_new() -> bool:
    return int(np.__version__.split(".")[0]) >= 2


def numpy_reason() -> str | None:
    """Why tflite-runtime cannot run beside this numpy, or None."""
    return f"tflite-runtime needs numpy<2 and numpy {np.__version__} is installed" if numpy_too_new() else None


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
    def file_reason(cls, entry: dict[str, Any]) -> str | None:
        """An op version in the file (the manifest's `op_versions`) newer than tflite-runtime 2.14 knows."""
        versions = entry.get("op_versions") or {}
        for op, first_unknown in TOO_NEW_OP_VERSIONS.items():
            if isinstance(versions.get(op), int) and versions[op] >= first_unknown:
                return (f"{entry.get('file')} uses {op} version {versions[op]}, which tflite-runtime 2.14 does not "
                        "know (mobile-dynint8 is the dynamic-int8 file it loads)")
        return None

    @classmethod
    def unsupported_reason(cls, entry: dict[str, Any]) -> str | None:
        return super().unsupported_reason(entry) or cls.file_reason(entry) or numpy_reason()


BACKEND = TFLiteRuntime
