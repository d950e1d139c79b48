"""The one small interface every backend implements, and the registry of them.

A backend runs one exported model file on one interpreter. It is created from
the bytes of a file the bundle loader has already checked (or from a path, for
scripts), so nothing native parses an unverified file and no file stays open.
Backends import their interpreter inside `__init__`, so listing them costs
nothing and a missing package becomes a clear error.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edgelstm.core.errors import BackendUnavailableError
from edgelstm.core.variants import NUMPY, route_of

if TYPE_CHECKING:  # type hints only: listing the backends (CLI help) must not load numpy
    import numpy as np

    from edgelstm.runtime.padding import PaddingStates


class Backend(Protocol):
    name: str
    # False: the Classifier serializes calls (a TFLite interpreter, shared buffers).
    thread_safe: bool

    def __init__(self, model: str | Path | bytes, entry: dict[str, Any], *, threads: int | None = None,
                 padding_states: PaddingStates | None = None) -> None:
        """`model`: the checked file's bytes (or its path); `entry`: the manifest's variant entry;
        `padding_states`: the bundle's table, given only to run the fast path (runtime/padding.py)."""

    @classmethod
    def unsupported_reason(cls, entry: dict[str, Any]) -> str | None:
        """Why this backend cannot run the variant `entry` describes, or None; decided before any native code runs."""

    def predict_ids(self, ids: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        """int32 ids [n, maxlen] -> float32 probabilities of label 1, shape [n].

        `steps`: per row, `padding.steps_needed(ids)` when the caller knows it already (the
        tokenizer does), so a call spends nothing finding it again; None: computed from ids.
        """

    def bare_call(self, ids: np.ndarray) -> Callable[[], object]:
        """The interpreter call `predict_ids(ids)` makes for one row [1, maxlen], every input prepared
        in advance, as a zero-argument callable: what an app driving the interpreter itself pays.
        Benchmarks time it beside `predict_ids` and raw text; nothing else should need it."""

    def close(self) -> None:
        """Release the interpreter; the backend is unusable afterwards."""


# name -> (module in edgelstm.runtime.backends, package that must be importable, pip extra)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "litert": ("litert", "ai_edge_litert", "edgelstm[litert]"),
    "tflite-runtime": ("tflite_runtime", "tflite_runtime", "edgelstm[tflite-runtime]"),
    "onnxruntime": ("onnxruntime", "onnxruntime", "edgelstm[onnx]"),
    "numpy": ("numpy_lstm", "numpy", "edgelstm"),
}


def is_installed(backend: str) -> bool:
    return importlib.util.find_spec(BACKENDS[backend][1]) is not None


def installed_backends() -> list[str]:
    return [name for name in BACKENDS if is_installed(name)]


def backend_class(backend: str) -> Any:
    if backend not in BACKENDS:
        raise BackendUnavailableError(f"unknown backend {backend!r}: accepted are auto, {', '.join(BACKENDS)}")
    module_name, package, extra = BACKENDS[backend]
    if not is_installed(backend):
        raise BackendUnavailableError(f"backend {backend!r} needs the package {package}, which is not installed: "
                                      f"pip install '{extra}'")
    module = importlib.import_module(f"edgelstm.runtime.backends.{module_name}")
    return module.BACKEND


def open_backend(backend: str, model: Path | bytes, entry: dict[str, Any], *, threads: int | None = None,
                 padding_states: PaddingStates | None = None) -> Backend:
    """The backend, with `padding_states` when the fast path should run (None: the padded way)."""
    return backend_class(backend)(model, entry, threads=threads, padding_states=padding_states)


def candidates(variant: str, entry: dict[str, Any], *, numpy_serves: bool) -> list[str]:
    """Backends that could run `variant` as its route built it, best first, from the variant table;
    numpy only when weights.npz serves it. Not filtered by what is installed."""
    route = route_of(variant, entry.get("route"))
    return [name for name in route.interpreters if name in BACKENDS and (name != NUMPY or numpy_serves)]


def reason_unsupported(backend: str, variant: str, entry: dict[str, Any]) -> str | None:
    """A known reason `backend` (installed) cannot run `entry`, without loading the model:
    the variant table's refusal for its route, else what the backend itself checks."""
    route = route_of(variant, entry.get("route"))
    if backend in route.refused:
        return f"{entry.get('file')} (route {route.name}) uses {route.refused[backend]}"
    # What the file holds (its op versions in the manifest), known whether or not the backend is installed.
    file_reason = getattr(_backend_module(backend).BACKEND, "file_reason", None)
    if file_reason is not None and (reason := file_reason(entry)):
        return reason
    return backend_class(backend).unsupported_reason(entry)


def _backend_module(backend: str) -> Any:
    """The backend's module in edgelstm.runtime.backends (importable without its interpreter package)."""
    if backend not in BACKENDS:
        raise BackendUnavailableError(f"unknown backend {backend!r}: accepted are auto, {', '.join(BACKENDS)}")
    return importlib.import_module(f"edgelstm.runtime.backends.{BACKENDS[backend][0]}")


def describe_install(backend: str) -> str:
    return f"pip install '{BACKENDS[backend][2]}'"
