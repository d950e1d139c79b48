"""The `imdb` source: the train split of Keras' `imdb.npz`, encoded exactly as
`keras.datasets.imdb.load_data(num_words=vocab_size)` does.

Encoding: shuffle with `numpy.random.RandomState(113)`, word rank r -> r + 3,
1 = start marker first, ids >= num_words -> 2 (out-of-vocabulary). The test split
is never read. The word index (`imdb_word_index.json`) gives the matching
`Tokenizer.from_keras_word_index`, so a model trained here classifies raw text later.

Files come from `--imdb-npz` / `--imdb-word-index` when given (a word index lying beside
the npz is found by itself), otherwise through `keras.utils.get_file`, which caches them
in ~/.keras/datasets. Offline, the download fails within `DOWNLOAD_TIMEOUT_S` and the
error says what to pass instead.
"""

from __future__ import annotations

import json
import pickle
import socket
import zipfile
from pathlib import Path

import numpy as np

from edgelstm.core.errors import DataError
from edgelstm.runtime.tokenizer import KERAS_INDEX_FROM, KERAS_OOV_ID, KERAS_START_ID

KERAS_SHUFFLE_SEED = 113
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# The hashes keras.datasets.imdb checks its downloads against.
NPZ_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"
DOWNLOAD_TIMEOUT_S = 20
OFFLINE_HINT = ("download imdb.npz and imdb_word_index.json from " + ORIGIN + " on a connected machine and pass "
                "--imdb-npz PATH (and --imdb-word-index PATH unless it lies beside the npz), or train on the "
                "labelled reviews as text: --data PATH/imdb_train.csv.gz")


def load_train_split(npz: Path, *, num_words: int) -> tuple[list[list[int]], np.ndarray]:
    """Encoded sequences and 0/1 labels of the npz's train split, in Keras' shuffled order."""
    ranks, labels = _read_npz(npz)
    order = np.arange(len(ranks))
    np.random.RandomState(KERAS_SHUFFLE_SEED).shuffle(order)
    sequences = [[KERAS_START_ID] + [_id(int(r), num_words) for r in ranks[i]] for i in order]
    return sequences, np.asarray(labels)[order]


def _id(rank: int, num_words: int) -> int:
    token = rank + KERAS_INDEX_FROM
    return token if token < num_words else KERAS_OOV_ID


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """The npz's ragged arrays are pickled: allow numpy's array rebuilding and nothing else,
    so a crafted file cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle API
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in imdb.npz")


def _read_array(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    with archive.open(name + ".npy") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(handle)
        if dtype.hasobject:
            return _ArrayOnlyUnpickler(handle).load()
        return np.frombuffer(handle.read(), dtype=dtype).reshape(shape)


def _read_npz(npz: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with zipfile.ZipFile(npz) as archive:
            members = {Path(n).stem for n in archive.namelist()}
            if not {"x_train", "y_train"} <= members:
                raise DataError(f"{npz} lacks x_train/y_train (holds {sorted(members)}): pass the Keras imdb.npz")
            return _read_array(archive, "x_train"), _read_array(archive, "y_train")
    except FileNotFoundError:
        raise DataError(f"--imdb-npz {npz} does not exist: {OFFLINE_HINT}") from None
    except (zipfile.BadZipFile, pickle.UnpicklingError, ValueError, EOFError) as error:
        raise DataError(f"{npz} is not a readable Keras imdb.npz ({error})") from None


def read_word_index(path: Path) -> dict[str, int]:
    """The {word: rank} index; ranks must be positive integers."""
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"IMDB word index {path} does not exist: pass --imdb-word-index PATH") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"IMDB word index {path} is not a JSON file ({error})") from None
    if not isinstance(index, dict) or not all(isinstance(r, int) and r > 0 for r in index.values()):
        raise DataError(f"IMDB word index {path} must map words to positive integer ranks, "
                        "like Keras' imdb_word_index.json")
    return index


def resolve_npz(npz: str | None) -> Path:
    """The local npz as given, else Keras' cached download."""
    return Path(npz) if npz else _download("imdb.npz", file_hash=NPZ_SHA256)


def resolve_word_index(word_index: str | None, npz: Path) -> Path:
    """The local index as given, else the one beside the npz, else Keras' cached download."""
    if word_index:
        return Path(word_index)
    beside = npz.with_name("imdb_word_index.json")
    return beside if beside.exists() else _download("imdb_word_index.json", file_hash=WORD_INDEX_MD5)


def _download(name: str, *, file_hash: str) -> Path:
    """keras.utils.get_file with a bounded wait; a failure becomes one clear DataError."""
    from edgelstm.train.model import import_keras  # heavy, and only needed here

    keras = import_keras()
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # urllib honours it for connect and read
    try:
        return Path(keras.utils.get_file(name, origin=ORIGIN + name, file_hash=file_hash))
    except Exception as error:  # noqa: BLE001 - Keras wraps network errors in plain Exception
        raise DataError(f"cannot download {name} from {ORIGIN} ({type(error).__name__}: {error}); this machine "
                        f"may be offline: {OFFLINE_HINT}") from None
    finally:
        socket.setdefaulttimeout(previous)
