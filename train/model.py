"""The classifier: Embedding -> LSTM -> Dense(1, sigmoid), and nothing else.

Export converts exactly these three weighted layers, so regularization lives only in
arguments that vanish at inference (LSTM dropout, weight penalties). No `mask_zero`:
the device backends run the LSTM over the padding too, and so must training.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Iterator

from edgelstm.train.config import TrainConfig

if TYPE_CHECKING:
    import keras


def import_keras():  # noqa: ANN201 - returns the keras module
    """Keras on TensorFlow, without TensorFlow's C++ log lines (set TF_CPP_MIN_LOG_LEVEL=0 to see them).

    Those lines are noise to a user here (oneDNN notices, version-skew notes from tf.data);
    real failures still arrive as Python exceptions.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules and os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0":
        with _silenced_stderr_fd():  # the oneDNN notice is printed before logging is configured
            import tensorflow  # noqa: F401
    import keras

    return keras


@contextlib.contextmanager
def _silenced_stderr_fd() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def seed_everything(seed: int) -> None:
    """Same seed and data -> same weights, same batches, same metrics (at some speed cost)."""
    keras = import_keras()
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_model(config: TrainConfig) -> "keras.Model":
    """The uncompiled model; input int32 [batch, maxlen], output sigmoid probability of label 1."""
    keras = import_keras()
    penalty = keras.regularizers.L2(config.l2) if config.l2 else None
    ids = keras.Input(shape=(config.maxlen,), dtype="int32", name="ids")
    vectors = keras.layers.Embedding(config.vocab_size, config.embedding_dim, embeddings_regularizer=penalty,
                                     name="embedding")(ids)
    state = keras.layers.LSTM(config.lstm_units, dropout=config.dropout, recurrent_dropout=config.recurrent_dropout,
                              kernel_regularizer=penalty, name="lstm")(vectors)
    probability = keras.layers.Dense(1, activation="sigmoid", name="dense")(state)
    return keras.Model(ids, probability, name="edgelstm")
