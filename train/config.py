"""TrainConfig: every setting of a training run, with its default, in one place.

Each field carries its help text and accepted range in its metadata; the
command line builds one option per field from them (`edgelstm.train.cli`),
`__post_init__` validates against them, and the resolved config is written
into the run directory so a run can be reproduced.

Pure Python: importing it costs nothing, TensorFlow is never touched here.
"""

from __future__ import annotations

import codecs
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from edgelstm.core.errors import ConfigError
from edgelstm.core.family import CELLS, DENSE_ACTIVATIONS, MASKED_BIDIRECTIONAL, RELU
from edgelstm.core.outputs import MAX_LABELS

# Hidden Dense layers training stacks at most (export reads any number from a model file).
MAX_HIDDEN_DENSE = 8


def _option(default: Any, help: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, choices: tuple | None = None) -> Any:
    """A dataclass field whose metadata says what it means and what it accepts."""
    return field(default=default, metadata={"help": help, "low": low, "high": high,
                                            "low_open": low_open, "choices": choices})


@dataclass
class TrainConfig:
    """A validated training configuration; see each field's help text."""

    # --- data -----------------------------------------------------------------------------
    data: str = _option("synthetic", "'synthetic' (built-in corpus), 'imdb' (Keras IMDB encoding), "
                        "or a path: .csv/.csv.gz, .jsonl/.jsonl.gz, or a folder with pos/ and neg/")
    text_column: str = _option("text", "CSV column / JSONL key holding the text")
    label_column: str = _option("label", "CSV column / JSONL key holding the label")
    label_names: tuple[str, ...] | None = _option(
        None, "names of label 0, label 1, ..., in that order, e.g. neg,pos or sports,tech,world (default: "
              "numeric labels ascending, 0/1 named neg,pos; text labels: neg/pos-like pairs are recognised, "
              "others sorted); two labels train a sigmoid head, more a softmax")
    encoding: str = _option("utf-8", "text encoding of CSV, JSONL and folder files")
    limit: int | None = _option(None, "use a class-balanced random sample of this many examples "
                                      "(for quick experiments)", low=2)
    imdb_npz: str | None = _option(None, "local Keras imdb.npz for --data imdb (default: download through Keras)")
    imdb_word_index: str | None = _option(None, "local imdb_word_index.json for --data imdb "
                                                "(default: beside --imdb-npz, else download through Keras)")
    synthetic_size: int = _option(20000, "number of examples of the synthetic corpus", low=20)
    # --- model: Embedding -> recurrent layer(s) -> hidden Dense layer(s) -> Dense(1, sigmoid) (core.family)
    vocab_size: int = _option(10000, "vocabulary size including padding and OOV ids "
                                     "(for --data imdb: Keras num_words)", low=3, high=10_000_000)
    maxlen: int = _option(200, "tokens per sequence; longer texts keep their last maxlen tokens",
                          low=1, high=100_000)
    embedding_dim: int = _option(128, "embedding width", low=1, high=4096)
    lstm_units: int = _option(128, "units of each recurrent layer (per direction), LSTM or GRU", low=1, high=4096)
    cell: str = _option("lstm", "recurrent cell: 'lstm' or 'gru' (Keras' GRU, reset_after=True)", choices=CELLS)
    layers: int = _option(1, "recurrent layers stacked (each but the last hands its whole sequence on)",
                          low=1, high=8)
    bidirectional: bool = _option(False, "read the text both ways in every recurrent layer (Bidirectional, "
                                         "concatenated); the device models then run the padded way: no fast path")
    mask_zero: bool = _option(False, "mask the padding id 0 in the embedding (Keras' mask_zero=True): the "
                                     "recurrent layers skip the padding and read the real tokens only, from the "
                                     "zero state; not with --bidirectional")
    dense_units: tuple[int, ...] = _option((), "units of each hidden Dense layer between the last recurrent layer "
                                               "and the head, bottom first, e.g. 64 or 64,32 (default: none)")
    dense_activation: str = _option(RELU, "activation of every hidden Dense layer (--dense-units)",
                                    choices=DENSE_ACTIVATIONS)
    # --- optimisation ------------------------------------------------------------------------
    # The defaults are the recipe chosen on IMDB's develop split (README, "The recipe"): the classic
    # example's 3 epochs at batch 128 (about its wall time here), Adam 2e-3 on a cosine schedule,
    # clipping at global norm 1, embedding dropout 0.2, and the last epoch kept.
    epochs: int = _option(3, "maximum number of epochs", low=1, high=10_000)
    batch_size: int = _option(128, "examples per training step", low=1, high=1_000_000)
    learning_rate: float = _option(2e-3, "Adam learning rate (the start of the cosine schedule)", low=0.0, high=1.0,
                                   low_open=True)
    learning_rate_decay: float = _option(1.0, "factor applied to the learning rate after each epoch "
                                              "(1 = constant; only with --learning-rate-schedule constant)",
                                         low=0.0, high=1.0, low_open=True)
    learning_rate_schedule: str = _option("cosine", "'constant' (times --learning-rate-decay per epoch) or "
                                                      "'cosine' (per step, from --learning-rate down to 0 at the "
                                                      "end of the last epoch)", choices=("constant", "cosine"))
    clipnorm: float | None = _option(1.0, "clip each step's gradients to this global norm (0, or null in a "
                                          "config.json, = no clipping)", low=0.0)
    weight_decay: float = _option(0.0, "decoupled weight decay (AdamW) per step, times the learning rate; "
                                       "0 = plain Adam", low=0.0, high=1.0)
    validation_split: float = _option(0.2, "share of the data held out for validation (stratified)",
                                      low=0.01, high=0.5)
    seed: int = _option(0, "seed of the split, the initial weights and the synthetic corpus", low=0,
                        high=2**31 - 1)
    threads: int = _option(0, "TensorFlow threads per op (0 = one per CPU core); the metrics do not "
                              "depend on it", low=0, high=4096)
    shuffle: bool = _option(True, "shuffle the training examples every epoch (off: one fixed order, e.g. to "
                                  "compare runs on different worker counts)")
    # --- regularization: only what vanishes at inference, so export sees three layers ----------
    embedding_dropout: float = _option(0.2, "share of token positions whose whole embedding vector is zeroed "
                                            "(training only)", low=0.0, high=0.9)
    dropout: float = _option(0.3, "input dropout of each recurrent layer (training only)", low=0.0, high=0.9)
    recurrent_dropout: float = _option(0.0, "recurrent dropout of each recurrent layer (training only)",
                                       low=0.0, high=0.9)
    l2: float = _option(1e-5, "L2 weight penalty on the embedding and recurrent kernels", low=0.0, high=1.0)
    early_stopping_patience: int = _option(0, "epochs without a lower validation cross-entropy before stopping "
                                              "(0 = never stop early)", low=0, high=10_000)
    restore_best: bool = _option(False, "keep the weights of the epoch with the lowest validation cross-entropy "
                                        "(default: the last epoch's; with the cosine schedule it scores higher)")
    # --- run directory ---------------------------------------------------------------------
    calibration_size: int = _option(256, "class-balanced training examples kept in calibration.npz "
                                         "for full-int8 export", low=2, high=1_000_000)

    def __post_init__(self) -> None:
        if isinstance(self.label_names, list):
            self.label_names = tuple(self.label_names)
        if isinstance(self.dense_units, list):  # config.json holds a list
            self.dense_units = tuple(self.dense_units)
        for spec in dataclasses.fields(self):
            _check_field(spec, getattr(self, spec.name))
        if self.label_names is not None:
            _check_label_names(self.label_names)
        if self.mask_zero and self.bidirectional:
            raise ConfigError(f"mask_zero=True with bidirectional=True: {MASKED_BIDIRECTIONAL}")
        _check_dense_units(self.dense_units)
        if self.learning_rate_schedule != "constant" and self.learning_rate_decay != 1.0:
            raise ConfigError(f"learning_rate_decay={self.learning_rate_decay} only applies to the constant "
                              f"schedule, not {self.learning_rate_schedule!r} (the default): add "
                              "--learning-rate-schedule constant, or drop the decay")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ConfigError(f"config field encoding={self.encoding!r} is not a known text encoding: "
                              "accepted are Python codec names such as utf-8, latin-1, cp1252") from None

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (tuples become lists)."""
        data = dataclasses.asdict(self)
        if data["label_names"] is not None:
            data["label_names"] = list(data["label_names"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `to_dict`; unknown keys are an error, missing keys take their defaults."""
        if not isinstance(data, dict):
            raise ConfigError(f"a training config must be a JSON object, got {type(data).__name__}")
        known = {spec.name for spec in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s) {', '.join(unknown)}: "
                              f"known fields are {', '.join(sorted(known))}")
        return cls(**data)


def _expected_types(spec: dataclasses.Field) -> tuple[type, ...]:
    """The Python types a field accepts, read from its annotation string ("int | None")."""
    names = {"None": type(None), "bool": bool, "int": int, "float": float, "str": str, "tuple": tuple}
    return tuple(names[part.split("[")[0].strip()] for part in str(spec.type).split("|"))


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int subclass: accept it only where declared
        return bool in types
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, tuple(t for t in types if t is not bool))


def _check_field(spec: dataclasses.Field, value: Any) -> None:
    types = _expected_types(spec)
    if not _type_ok(value, types):
        accepted = " or ".join(t.__name__ if t is not type(None) else "None" for t in types)
        raise ConfigError(f"config field {spec.name}={value!r} has type {type(value).__name__}: accepted is {accepted}")
    meta = spec.metadata
    if value is None or isinstance(value, (bool, str, tuple)):
        if isinstance(value, str) and not value.strip():
            raise ConfigError(f"config field {spec.name} is empty: give a non-empty value")
        if meta["choices"] and value not in meta["choices"]:
            raise ConfigError(f"config field {spec.name}={value!r} is not accepted: accepted are "
                              f"{', '.join(map(repr, meta['choices']))}")
        return
    low, high = meta["low"], meta["high"]
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config field {spec.name}={value!r} is not a finite number")
    too_low = low is not None and (value <= low if meta["low_open"] else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        left = "(" if meta["low_open"] else "["
        bounds = f"{left}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ConfigError(f"config field {spec.name}={value!r} is out of range: accepted is {bounds}")


def _check_label_names(names: tuple) -> None:
    if (not 2 <= len(names) <= MAX_LABELS or not all(isinstance(n, str) and n.strip() for n in names)
            or len({n.casefold() for n in names}) != len(names)):
        raise ConfigError(f"label_names={list(names)!r} must be 2 to {MAX_LABELS} different non-empty names "
                          "(label 0 first), e.g. neg,pos or sports,tech,world")


def _check_dense_units(units: tuple) -> None:
    if len(units) > MAX_HIDDEN_DENSE or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 4096
                                                 for n in units):
        raise ConfigError(f"dense_units={list(units)!r} must be up to {MAX_HIDDEN_DENSE} layer widths of 1 to 4096, "
                          "e.g. 64 or 64,32 (none: no hidden Dense layer)")


def config_fields() -> list[dataclasses.Field]:
    """The fields in declaration order, for building command-line options."""
    return list(dataclasses.fields(TrainConfig))
