"""One worker of a two-worker MultiWorkerMirroredStrategy fit with stock Keras, no edgelstm code.

Run by tests/test_train_multiworker.py as `python stock_keras_multiworker.py` with TF_CONFIG
set; prints FIT-OK when `model.fit` succeeds, else exits non-zero with Keras' error.
"""

import keras
import numpy as np
import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4),
                              keras.layers.LSTM(4), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
model.fit(rng.integers(0, 20, (64, 6)), rng.integers(0, 2, (64, 1)).astype("float32"), batch_size=16, epochs=1,
          verbose=0)
print("FIT-OK", flush=True)
