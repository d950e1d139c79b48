"""The classic Keras IMDB LSTM example, unchanged in substance, as the time and accuracy yardstick.

`Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid)`, 200 tokens, Adam, batch 64, 3 epochs,
`validation_split=0.2`: the tutorial's code, fed the IMDB train split from the CSV with
`keras.datasets.imdb.load_data(num_words=10000)`'s encoding (the data folder's README gives it),
since this machine has no imdb.npz. It writes per-epoch wall time, accuracies and the load
average, so that edgelstm's default can be timed against it back to back:

    .venv/bin/python scripts/classic_imdb.py --data ../shared/data/imdb --out out/classic.json
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import string
import time
from pathlib import Path

import numpy as np

NUM_WORDS, MAXLEN, BATCH, EPOCHS = 10000, 200, 64, 3
# Keras' IMDB loader: start marker 1, out-of-vocabulary 2, ranks shifted by 3.
START, OOV, INDEX_FROM = 1, 2, 3
# The shared CSV has 0/1; edgelstm.train.splits writes neg/pos (so the develop split can be timed too).
LABELS = {"0": 0, "1": 1, "neg": 0, "pos": 1}
_SPACES = str.maketrans({c: " " for c in string.punctuation.replace("'", "") + "\t\n"})


def keras_encoding(text: str, index: dict[str, int]) -> list[int]:
    ids = [START]
    for word in text.lower().translate(_SPACES).split(" "):
        rank = index.get(word)
        if rank is not None:
            ids.append(rank + INDEX_FROM if rank + INDEX_FROM < NUM_WORDS else OOV)
    return ids


def load(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    index = json.loads((folder / "imdb_word_index.json").read_text(encoding="utf-8"))
    with gzip.open(folder / "imdb_train.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    sequences = [keras_encoding(row["text"], index) for row in rows]
    labels = np.asarray([LABELS[row["label"]] for row in rows], dtype=np.int64)
    order = np.random.RandomState(113).permutation(len(rows))  # the Keras loader's shuffle
    return [sequences[i] for i in order], labels[order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/imdb", help="folder with imdb_train.csv.gz")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    sequences, labels = load(Path(args.data))
    x = keras.utils.pad_sequences(sequences, maxlen=MAXLEN)
    model = keras.Sequential([keras.Input(shape=(MAXLEN,)), keras.layers.Embedding(NUM_WORDS, 128),
                              keras.layers.LSTM(128), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    seconds: list[float] = []
    loads: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds.append(round(time.perf_counter() - self.started, 1))
            loads.append(os.getloadavg()[0])

    started = time.perf_counter()
    history = model.fit(x, labels, batch_size=BATCH, epochs=EPOCHS, validation_split=0.2, callbacks=[Clock()],
                        verbose=2)
    result = {"seconds": round(time.perf_counter() - started, 1), "epoch_seconds": seconds,
              "load_average_1min_at_epoch_end": loads, "cpus": os.cpu_count(),
              "val_accuracy": [round(v, 4) for v in history.history["val_accuracy"]],
              "accuracy": [round(v, 4) for v in history.history["accuracy"]]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
