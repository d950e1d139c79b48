"""The device side of edgelstm: load a bundle and classify raw text.

Needs numpy and at most one interpreter (ai-edge-litert, tflite-runtime or
onnxruntime); never TensorFlow. Imports nothing from edgelstm.train or
edgelstm.export: the bundle is the only contract between them.

    from edgelstm.runtime import Classifier
    with Classifier.load("bundles/demo") as classifier:
        print(classifier.predict("a quietly wonderful film"))
"""

from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.classifier import Classifier, ClosedError, Prediction
from edgelstm.runtime.errors import (
    BackendUnavailableError,
    BundleError,
    ConfigError,
    EdgeLSTMError,
    InputError,
    VerificationError,
)
from edgelstm.runtime.tokenizer import Tokenizer
from edgelstm.runtime.verify import verify_bundle

__all__ = [
    "BackendUnavailableError",
    "Bundle",
    "BundleError",
    "Classifier",
    "ClosedError",
    "ConfigError",
    "EdgeLSTMError",
    "InputError",
    "Prediction",
    "Tokenizer",
    "VerificationError",
    "verify_bundle",
]
