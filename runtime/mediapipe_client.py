"""Run a bundle's mobile variant the way an app does: MediaPipe Tasks' TextClassifier on raw text.

MediaPipe tokenizes with the RegexTokenizer in the file's metadata, runs the model and
returns one score per label; nothing of ours is involved, which is the point: export
and `verify` measure the file through the client that ships it. Needs the `mediapipe`
extra (`pip install 'edgelstm[mediapipe]'`), imported only here and only when called.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core.errors import BackendUnavailableError
from edgelstm.core.outputs import as_scores
from edgelstm.core.variants import VARIANTS, Tolerance
from edgelstm.runtime.parity import Parity, compare

INSTALL_HINT = "pip install 'edgelstm[mediapipe]'"


def is_installed() -> bool:
    return importlib.util.find_spec("mediapipe") is not None


def import_text_classifier() -> tuple[Any, Any]:
    """MediaPipe's TextClassifier module and BaseOptions, without letting it import TensorFlow.

    mediapipe's metadata module imports TensorFlow when it can (only to open files, with a
    fallback to `open`): on a device, and in `verify`, that would cost seconds and hundreds
    of MB for nothing. It is blocked for the import only, and only when not already loaded.
    """
    blocked = "tensorflow" not in sys.modules
    if blocked:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]  # `import tensorflow` raises ImportError
    try:
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.text import text_classifier
    finally:
        if blocked and sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
    return text_classifier, BaseOptions


def open_classifier(model: bytes) -> Any:
    if not is_installed():
        raise BackendUnavailableError(f"mediapipe is not installed ({INSTALL_HINT})")
    text_classifier, BaseOptions = import_text_classifier()

    options = text_classifier.TextClassifierOptions(base_options=BaseOptions(model_asset_buffer=model),
                                                    max_results=-1)
    return text_classifier.TextClassifier.create_from_options(options)


def scores(model: str | Path | bytes, texts: Sequence[str], *, labels: int) -> np.ndarray:
    """float32 [len(texts), labels]: MediaPipe's score of each label index, per text, one classify call each."""
    content = model if isinstance(model, bytes) else Path(model).read_bytes()
    out = np.zeros((len(texts), labels), np.float32)
    with open_classifier(content) as classifier:
        for row, text in enumerate(texts):
            out[row] = category_scores(classifier.classify(text), labels)
    return out


def category_scores(result: Any, labels: int) -> np.ndarray:
    """float32 [labels]: one TextClassifier result's score of each label index (0 for a label it omits)."""
    out = np.zeros(labels, np.float32)
    for category in result.classifications[0].categories:
        out[category.index] = category.score
    return out


def label_probabilities(model: str | Path | bytes, texts: Sequence[str], *, labels: int = 2) -> np.ndarray:
    """What our runtime calls the probabilities, per text: for two labels the score of label 1 [n],
    for C >= 3 labels every label's score [n, C] (edgelstm.core.outputs)."""
    return as_scores(scores(model, texts, labels=labels))


def compare_raw_texts(probs: np.ndarray, reference: np.ndarray, *, variant: str, labels: np.ndarray,
                      differs: np.ndarray, raw_tolerance: Tolerance | None = None,
                      tolerance: Tolerance | None = None) -> tuple[Parity, Parity]:
    """MediaPipe's probabilities on raw texts against Keras': (every text, texts tokenized as we do).

    Every text: `raw_tolerance` (default: the variant's `raw_text_tolerance`, core/variants.py).
    Texts whose tokenization MediaPipe reproduces (`differs` False): `tolerance` (default: the
    variant's own bounds), as on ids. The failures of both are in the first Parity's list.
    """
    overall = compare(probs, reference, variant=variant, labels=labels,
                      tolerance=raw_tolerance or VARIANTS[variant].raw_text_tolerance)
    same = ~np.asarray(differs, bool)
    alike = compare(probs[same], reference[same], variant=variant, labels=labels[same], tolerance=tolerance)
    overall.failures += [f"texts tokenized as ours: {failure}" for failure in alike.failures]
    return overall, alike
