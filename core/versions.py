"""Versions of the libraries that change how models train, convert or run, read without importing them."""

from __future__ import annotations

import importlib.metadata

# Distributions recorded in run directories, manifests, benchmark results and `edgelstm env`.
LIBRARIES = ("numpy", "tensorflow", "tensorflow-cpu", "keras", "tf-keras", "tf2onnx", "onnx", "onnxruntime",
             "ai-edge-litert", "tflite-runtime", "protobuf", "psutil", "matplotlib")


def library_versions() -> dict[str, str]:
    """Installed versions of LIBRARIES (absent ones left out), from package metadata only."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
