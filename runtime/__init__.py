"""The device side of edgelstm: load a bundle and classify raw text.

Needs numpy and at most one interpreter (ai-edge-litert, tflite-runtime or
onnxruntime); never TensorFlow. Imports nothing from edgelstm.train or
edgelstm.export: the bundle is the only contract between them.
"""

from edgelstm.runtime.errors import (
    BackendUnavailableError,
    BundleError,
    EdgeLSTMError,
    InputError,
    VerificationError,
)
from edgelstm.runtime.tokenizer import Tokenizer

__all__ = [
    "BackendUnavailableError",
    "BundleError",
    "EdgeLSTMError",
    "InputError",
    "Tokenizer",
    "VerificationError",
]
