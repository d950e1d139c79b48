"""The classifier: Embedding -> recurrent layer(s) -> hidden Dense layer(s) -> Dense(1, sigmoid), and nothing else.

Three or more classes end in Dense(C, softmax) instead (one probability per label, in the
run's label order); two classes keep the sigmoid, the classic example's head.

The recurrent part is one member of the family export converts (edgelstm.core.family):
`--cell lstm|gru`, `--layers N` stacked (each but the last returning its sequence),
`--bidirectional`, then `--dense-units` hidden Dense layers (`--dense-activation`, none by
default). The reference is the classic single LSTM. Regularization lives only in
what vanishes at inference (a weightless dropout layer, recurrent dropout, weight penalties;
the run directory's model is rebuilt without them, see `edgelstm.train.fit.inference_model`).
`--mask-zero` masks the padding id (Keras' `mask_zero=True`): the recurrent layers then skip
the padding and the device models compute the same without a mask (export/keras_model.py).
Without it the recurrent layers run over the padding too, in training and on every device.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from edgelstm.core.outputs import SIGMOID, output_kind
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


def seed_everything(seed: int, threads: int = 0) -> int:
    """Same seed and data -> same weights, same batches, same metrics, epoch by epoch.

    Op determinism fixes every kernel's summation order. Measured here, the thread count does
    not change a single bit of the metrics (1, 2 and 8 threads on a 2-core machine), so
    `threads` (0 = TensorFlow's default, one per core) is only a way to share a machine; the
    CPU's instruction set can (see the README). Returns the thread count in use.
    """
    keras = import_keras()
    import tensorflow as tf

    if threads and tf.config.threading.get_intra_op_parallelism_threads() != threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already ran an op in this process: its pool stays
            pass
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1


def build_model(config: TrainConfig, classes: int = 2) -> keras.Model:
    """The uncompiled model; input int32 [batch, maxlen], output the sigmoid probability of label 1
    [batch, 1] for two classes, else the softmax probability of each label [batch, classes]."""
    keras = import_keras()
    penalty = keras.regularizers.L2(config.l2) if config.l2 else None
    ids = keras.Input(shape=(config.maxlen,), dtype="int32", name="ids")
    vectors = keras.layers.Embedding(config.vocab_size, config.embedding_dim, embeddings_regularizer=penalty,
                                     mask_zero=config.mask_zero, name="embedding")(ids)
    if config.embedding_dropout:
        # Whole token positions (every dimension at once), so the LSTM learns to do without some words.
        vectors = keras.layers.Dropout(config.embedding_dropout, noise_shape=(None, config.maxlen, 1),
                                       name="embedding_dropout")(vectors)
    state = vectors
    for layer in range(config.layers):
        state = _recurrent_layer(keras, config, penalty, layer)(state)
    for index, units in enumerate(config.dense_units):
        state = keras.layers.Dense(units, activation=config.dense_activation, name=f"hidden_dense_{index + 1}")(state)
    if output_kind(classes) == SIGMOID:
        probability = keras.layers.Dense(1, activation="sigmoid", name="dense")(state)
    else:
        probability = keras.layers.Dense(classes, activation="softmax", name="dense")(state)
    return keras.Model(ids, probability, name="edgelstm")


def _recurrent_layer(keras: keras, config: TrainConfig, penalty: object, layer: int) -> keras.layers.Layer:
    """Layer `layer` of the stack: named lstm (the classic single layer), else lstm_2, gru_1, ..."""
    make = keras.layers.GRU if config.cell == "gru" else keras.layers.LSTM
    name = config.cell if config.layers == 1 else f"{config.cell}_{layer + 1}"
    options = {"dropout": config.dropout, "recurrent_dropout": config.recurrent_dropout,
               "kernel_regularizer": penalty, "return_sequences": layer < config.layers - 1}
    if config.cell == "gru":
        options["reset_after"] = True  # Keras' default, and what every device backend computes
    if config.bidirectional:
        return keras.layers.Bidirectional(make(config.lstm_units, **options), name=f"bidirectional_{name}")
    return make(config.lstm_units, name=name, **options)
