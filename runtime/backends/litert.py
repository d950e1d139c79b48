"""ai-edge-litert: Google's maintained TFLite interpreter (x86_64 and aarch64 wheels, numpy 2)."""

from __future__ import annotations

from typing import Any

from edgelstm.runtime.backends._tflite import TFLiteBackend


class LiteRT(TFLiteBackend):
    name = "litert"
    distribution = "ai-edge-litert"

    @classmethod
    def _interpreter_class(cls) -> Any:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter


BACKEND = LiteRT
