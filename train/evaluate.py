"""`evaluate(run, data)`: accuracy, loss, per-label precision/recall/F1 and the confusion matrix of a
run's model on labelled data.

What `data` means here:

* ``None``: the run's own `validation.npz`, the held-out split it never trained on.
* ``synthetic``: a fresh synthetic corpus from seed ``run seed + EVALUATION_SEED_OFFSET``,
  the size of the run's validation split, with every text that also appears in the run's
  training corpus removed: reviews of the same kinds the model has never seen.
* anything else: read like `edgelstm train --data` (same options), encoded with the run's
  tokenizer, labels mapped onto the run's label names by name (edgelstm.train.labels: a label
  the run does not know is a one-line error naming it and the known ones; the file may hold only
  some of the run's labels). Evaluating on the file a run trained
  on is allowed but flagged (`overlaps_training_data`): most of it was training data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core import rundir
from edgelstm.core.errors import ConfigError, DataError
from edgelstm.core.rundir import RunDirectory
from edgelstm.train import synthetic
from edgelstm.train.config import TrainConfig
from edgelstm.train.prepare import Encoded, encode, limit_corpus
from edgelstm.train.scoring import predict_probabilities, scores
from edgelstm.train.sources import Corpus, load_corpus

EVALUATION_SEED_OFFSET = 1
# Data options `evaluate` accepts; the model options come from the run.
DATA_FIELDS = ("text_column", "label_column", "encoding", "limit", "imdb_npz", "imdb_word_index", "synthetic_size")


def open_run(folder: str | Path) -> RunDirectory:
    """Read a run directory (edgelstm.core.rundir); the model loads later."""
    return rundir.read_run(folder)


def train_config(run: RunDirectory) -> TrainConfig:
    return TrainConfig.from_dict(run.config)


def evaluation_corpus(run: RunDirectory, data: str, **options: Any) -> Corpus:
    """The labelled data to evaluate on, labels in the run's order (see the module docstring)."""
    unknown = sorted(set(options) - set(DATA_FIELDS))
    if unknown:
        raise ConfigError(f"evaluate does not take {', '.join(unknown)}: accepted are {', '.join(DATA_FIELDS)}")
    trained = train_config(run)
    values = {**trained.to_dict(), "data": data, "limit": None,
              **{k: v for k, v in options.items() if v is not None}}
    if data == "synthetic":
        validation_size = int(run.metrics["validation"]["examples"])
        values.update(seed=trained.seed + EVALUATION_SEED_OFFSET,
                      synthetic_size=options.get("synthetic_size") or validation_size)
    config = TrainConfig.from_dict(values)
    corpus = limit_corpus(load_corpus(config, label_names=tuple(run.labels)), config.limit, seed=config.seed)
    if data == "synthetic":
        corpus = _unseen(corpus, trained)
    return corpus


def _unseen(corpus: Corpus, training: TrainConfig) -> Corpus:
    """Drop texts the run's synthetic training corpus also holds."""
    seen = {e.text for e in synthetic.generate(training.synthetic_size, seed=training.seed)}
    keep = np.asarray([i for i, text in enumerate(corpus.texts) if text not in seen], dtype=np.int64)
    return corpus.subset(keep)


def encode_for_run(corpus: Corpus, run: RunDirectory) -> Encoded:
    if corpus.sequences is not None and run.tokenizer.kind != "keras-imdb":
        raise DataError(f"{corpus.source} holds Keras IMDB ids but run {run.root} uses a {run.tokenizer.kind!r} "
                        "tokenizer: evaluate it on text (CSV, JSONL, folder) instead")
    return encode(corpus, run.tokenizer)


def evaluate(run_folder: str | Path, data: str | None = None, **options: Any) -> dict[str, Any]:
    """Scores of the run's model on `data` (see the module docstring); JSON-ready."""
    run = open_run(run_folder)
    if data is None:
        encoded, source, overlap = held_out_split(run), rundir.VALIDATION, False
    else:
        corpus = evaluation_corpus(run, data, **options)
        if len(corpus) == 0:
            raise DataError(f"{corpus.source} has no examples left to evaluate on")
        encoded, source = encode_for_run(corpus, run), corpus.source
        overlap = bool(corpus.file_sha256) and corpus.file_sha256 == run.metrics["data"].get("file_sha256")
    probabilities = _predict(run, encoded.ids)
    return {"run": str(run.root), "data": source, "examples": int(len(encoded.labels)),
            **scores(probabilities, encoded.labels, run.labels), "overlaps_training_data": overlap}


def held_out_split(run: RunDirectory) -> Encoded:
    arrays = run.validation
    return Encoded(ids=arrays["ids"], labels=arrays["labels"], lengths=arrays["lengths"])


def _predict(run: RunDirectory, ids: np.ndarray) -> np.ndarray:
    from edgelstm.train.model import import_keras

    model = import_keras().saving.load_model(run.model_path, compile=False)
    return predict_probabilities(model, ids)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_report(result: dict[str, Any]) -> str:
    """The human-readable form of `evaluate`'s result."""
    names, matrix = result["labels"], result["confusion_matrix"]
    width = max(8, *(len(n) + 2 for n in names))
    lines = [f"evaluated {result['run']} on {result['data']}: {result['examples']:,} examples",
             f"accuracy {result['accuracy']:.4f}   loss {result['loss']:.4f}   macro F1 {_ratio(result['macro_f1'])}",
             f"{'label':>{width}}{'precision':>11}{'recall':>9}{'F1':>9}{'support':>10}"]
    lines += [f"{row['label']:>{width}}{_ratio(row['precision']):>11}{_ratio(row['recall']):>9}"
              f"{_ratio(row['f1']):>9}{row['support']:>10,}" for row in result["per_class"]]
    lines += ["confusion matrix (rows: true label, columns: predicted)",
              " " * width + "".join(f"{n:>{width}}" for n in names)]
    lines += [f"{names[t]:>{width}}" + "".join(f"{count:>{width},}" for count in matrix[t]) for t in range(len(names))]
    if result["overlaps_training_data"]:
        lines.append("note: this is the file the run trained on; most of it was training data, so these "
                     "figures are optimistic (evaluate without --data for the held-out split)")
    return "\n".join(lines)
