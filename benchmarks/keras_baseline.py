"""The original Keras model as a baseline row: the only place the harness touches TensorFlow.

Imported by a worker only when a Keras row was asked for and TensorFlow is
installed, so the harness itself runs on a device install. The bundle does
not hold the .keras file; the parent finds it (--keras-model or the manifest's
source run) and passes its path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

# XLA compiles the LSTM's loop into one kernel: the fastest in-TensorFlow call measured
# here (benchmarks/README.md, IMDB model, batch 1: 0.97 ms p50 against 72.7 ms for model.predict).
JIT_COMPILE = True


def import_stack(threads: int | None) -> None:
    """Import TensorFlow and Keras, and pin their thread pools before any op runs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ info logs are noise in a benchmark
    import keras  # noqa: F401
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def load(path: str, *, mode: str) -> tuple[Callable[[Any], Any], dict]:
    """(predict_ids, info) for `mode` "model.predict" or "tf.function"."""
    import keras
    import tensorflow as tf

    from edgelstm.core.outputs import as_scores  # [n] for two labels, [n, C] for more

    model = keras.models.load_model(path, compile=False)
    info = {"keras_model": path, "keras_mode": mode, "tensorflow": tf.__version__, "keras": keras.__version__}
    if mode == "model.predict":
        # One call, one batch: what `predict` costs for the rows it is handed.
        return (lambda ids: as_scores(model.predict(ids, batch_size=max(len(ids), 1), verbose=0))), info
    if mode == "tf.function":
        # reduce_retracing: batch 1, the throughput batch and the last golden chunk share one trace.
        call = tf.function(lambda x: model(x, training=False), jit_compile=JIT_COMPILE, reduce_retracing=True)
        info["jit_compile"] = JIT_COMPILE
        return (lambda ids: as_scores(call(tf.constant(ids)).numpy())), info
    raise ValueError(f"unknown Keras mode {mode!r}: accepted are model.predict, tf.function")
