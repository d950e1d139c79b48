"""The device side of edgelstm: load a bundle and classify raw text.

Needs numpy and at most one interpreter (ai-edge-litert, tflite-runtime or
onnxruntime); never TensorFlow. Imports nothing from edgelstm.train or
edgelstm.export: the bundle is the only contract between them.

    from edgelstm.runtime import Classifier
    with Classifier.load("bundles/demo") as classifier:
        print(classifier.predict("a quietly wonderful film"))

The names below load on first use (PEP 562), so importing one submodule, or an
error class, does not load numpy and every backend with it.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Bundle": "edgelstm.runtime.bundle",
    "Classifier": "edgelstm.runtime.classifier",
    "ClosedError": "edgelstm.runtime.classifier",
    "Prediction": "edgelstm.runtime.classifier",
    "Tokenizer": "edgelstm.runtime.tokenizer",
    "verify_bundle": "edgelstm.runtime.verify",
    "BackendUnavailableError": "edgelstm.core.errors",
    "BundleError": "edgelstm.core.errors",
    "ConfigError": "edgelstm.core.errors",
    "EdgeLSTMError": "edgelstm.core.errors",
    "InputError": "edgelstm.core.errors",
    "VerificationError": "edgelstm.core.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'edgelstm.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
