"""`train(config, out)`: data -> fitted model -> a complete run directory.

By default every epoch runs and the last one is kept: with the cosine schedule the learning rate
reaches 0 at the end, and on IMDB the last epoch scores higher than the one with the lowest
validation cross-entropy (the model grows confident before it stops improving; README, "The
recipe"). `restore_best` keeps that lowest-cross-entropy epoch instead, and
`early_stopping_patience` stops once that many epochs bring no improvement.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm import __version__
from edgelstm.benchmarks.machine import cpu_flags
from edgelstm.core import rundir
from edgelstm.core.outputs import SIGMOID, SOFTMAX, labels_of_width, output_kind
from edgelstm.core.versions import library_versions
from edgelstm.envinfo import cpu_model
from edgelstm.runtime import textarrays
from edgelstm.train.config import TrainConfig
from edgelstm.train.distributed import SINGLE_PROCESS, Distribution
from edgelstm.train.model import build_model, import_keras, seed_everything
from edgelstm.train.prepare import Prepared, calibration_sample, limit_corpus, prepare
from edgelstm.train.scoring import predict_probabilities, scores
from edgelstm.train.sources import Corpus, load_corpus

# The epoch to keep is chosen on the validation cross-entropy alone: Keras' val_loss also holds
# the L2 penalty, which changes from epoch to epoch for reasons unrelated to generalization.
# Binary cross-entropy for the sigmoid head, sparse categorical for the softmax head.
MONITOR = "val_bce"
MONITOR_SOFTMAX = "val_cce"
LOSSES = {SIGMOID: "binary_crossentropy", SOFTMAX: "sparse_categorical_crossentropy"}


def monitored(classes: int) -> str:
    """The validation metric early stopping and the kept epoch follow, for a head of `classes`."""
    return MONITOR if output_kind(classes) == SIGMOID else MONITOR_SOFTMAX


@dataclass
class Fitted:
    model: Any  # keras.Model with the kept (best) weights
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0  # 1-based, lowest validation loss
    kept_epoch: int = 0  # 1-based, whose weights the model holds
    stopped_early: bool = False
    seconds: float = 0.0
    threads: int = 0  # TensorFlow intra-op threads the run used


def train(config: TrainConfig, out: str | Path, *, force: bool = False, verbose: int = 1,
          distribution: Distribution = SINGLE_PROCESS) -> Path | None:
    """Train per `config` and write the run directory `out`; returns its path.

    An existing `out` is refused unless `force` (and then only a run directory is replaced).
    Nothing is written until training has finished. Under a multi-worker `distribution`
    (edgelstm.train.distributed) only the chief writes `out`; other workers return None.
    """
    target = Path(out)
    if distribution.is_chief:
        rundir.check_target(target, force=force)
    corpus = limit_corpus(load_corpus(config), config.limit, seed=config.seed)
    prepared = prepare(corpus, config)
    if verbose:
        print(describe_data(corpus, prepared), flush=True)
    with distribution.scope():
        fitted = fit_model(prepared, config, verbose=verbose)
    metrics = build_metrics(config, corpus, prepared, fitted)
    metrics["distribution"] = distribution.record(config.batch_size, fitted.model)
    if distribution.is_chief:
        with rundir.staging(target, force=force) as folder:
            write_run(folder, config, prepared, fitted, metrics)
    distribution.finish()
    return target if distribution.is_chief else None


def describe_data(corpus: Corpus, prepared: Prepared) -> str:
    counts = ", ".join(f"{n:,} {name}" for name, n in corpus.fingerprint()["counts"].items())
    return (f"data: {corpus.source}: {len(corpus):,} examples ({counts}); training on "
            f"{len(prepared.train.labels):,}, validating on {len(prepared.validation.labels):,}")


def _keep_best_callback(keras: Any, monitor: str) -> Any:
    """A callback remembering the weights of the lowest validation cross-entropy, and timing each epoch."""

    class KeepBest(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best_loss, self.best_epoch, self.best_weights = np.inf, 0, None
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.seconds.append(time.perf_counter() - self.started)
            if logs[monitor] < self.best_loss:
                self.best_loss, self.best_epoch = logs[monitor], epoch + 1
                self.best_weights = self.model.get_weights()

    return KeepBest()


def time_left_line(epoch: int, epochs: int, seconds: list[float], *, may_stop_early: bool) -> str:
    """'epoch 2/5: 98 s, about 294 s left' from the epochs timed so far.

    The first epoch also traces and compiles the graph, so once others are timed it is left out.
    """
    timed = seconds[1:] or seconds
    left = (epochs - epoch) * sum(timed) / len(timed)
    if epoch == epochs:
        return f"epoch {epoch}/{epochs}: {seconds[-1]:.0f} s, {sum(seconds):.0f} s in all"
    bound = " at most (early stopping may end sooner)" if may_stop_early else ""
    return f"epoch {epoch}/{epochs}: {seconds[-1]:.0f} s, about {left:.0f} s left{bound}"


def _time_left_callback(keras: Any, keep: Any, config: TrainConfig) -> Any:
    """Prints, after Keras' own epoch line, the epoch's wall time and the time left."""

    class TimeLeft(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            print(time_left_line(epoch + 1, config.epochs, keep.seconds,
                                 may_stop_early=bool(config.early_stopping_patience)), flush=True)

    return TimeLeft()


def _optimizer(keras: Any, config: TrainConfig, steps_per_epoch: int) -> Any:
    """Adam, or AdamW with decoupled weight decay; the learning rate constant or cosine per step."""
    rate: Any = config.learning_rate
    if config.learning_rate_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps_per_epoch * config.epochs)
    options = {"learning_rate": rate, "global_clipnorm": config.clipnorm or None}  # 0 = no clipping
    if config.weight_decay:
        return keras.optimizers.AdamW(weight_decay=config.weight_decay, **options)
    return keras.optimizers.Adam(**options)


def fit_model(prepared: Prepared, config: TrainConfig, *, verbose: int = 1) -> Fitted:
    """Seeded, deterministic training with early stopping on validation loss."""
    keras = import_keras()
    threads = seed_everything(config.seed, config.threads)
    classes = prepared.classes
    model = build_model(config, classes)
    steps_per_epoch = -(-len(prepared.train.labels) // config.batch_size)
    monitor = monitored(classes)
    if output_kind(classes) == SIGMOID:
        metrics = ["accuracy", keras.metrics.BinaryCrossentropy(name=monitor.removeprefix("val_"))]
    else:
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                   keras.metrics.SparseCategoricalCrossentropy(name=monitor.removeprefix("val_"))]
    model.compile(optimizer=_optimizer(keras, config, steps_per_epoch), loss=LOSSES[output_kind(classes)],
                  metrics=metrics)
    keep = _keep_best_callback(keras, monitor)
    callbacks = [keep]
    if verbose:  # Keras' own epoch line first (its logger runs in list order), then the time left
        callbacks += [keras.callbacks.ProgbarLogger(), _time_left_callback(keras, keep, config)]
    if config.learning_rate_decay != 1.0:
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch: config.learning_rate * config.learning_rate_decay ** epoch))
    if config.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=config.early_stopping_patience))
    started = time.perf_counter()
    result = model.fit(prepared.train.ids, _targets(prepared.train.labels, classes),
                       validation_data=(prepared.validation.ids, _targets(prepared.validation.labels, classes)),
                       epochs=config.epochs, batch_size=config.batch_size, shuffle=config.shuffle,
                       callbacks=callbacks, verbose=verbose)
    seconds = time.perf_counter() - started
    if config.restore_best and keep.best_weights is not None:
        model.set_weights(keep.best_weights)
    model = inference_model(model, config)
    history = _history(result.history, keep.seconds)
    kept_epoch = keep.best_epoch if config.restore_best else len(history)
    return Fitted(model=model, history=history, best_epoch=keep.best_epoch, kept_epoch=kept_epoch,
                  stopped_early=len(history) < config.epochs, seconds=seconds, threads=threads)


def inference_model(trained: Any, config: TrainConfig) -> Any:
    """The trained weights in a fresh, uncompiled model without dropout or penalties.

    Those only act in training, but a layer built with them carries extra state into a
    SavedModel (an extra TFLite subgraph), and `include_optimizer=False` is ignored for
    .keras files: a clean rebuild gives export exactly Embedding -> LSTM -> Dense.
    """
    classes = labels_of_width(int(trained.output_shape[-1]))
    clean = build_model(dataclasses.replace(config, embedding_dropout=0.0, dropout=0.0, recurrent_dropout=0.0,
                                            l2=0.0), classes)
    clean.set_weights(trained.get_weights())
    return clean


def _targets(labels: np.ndarray, classes: int) -> np.ndarray:
    """Sigmoid: float32 [n, 1], the model output's shape (the cross-entropy metric insists on equal
    ranks); softmax: the label ids int32 [n] (sparse categorical)."""
    if output_kind(classes) == SIGMOID:
        return labels.astype(np.float32).reshape(-1, 1)
    return labels.astype(np.int32)


def _history(logs: dict[str, list[float]], seconds: list[float]) -> list[dict[str, float]]:
    epochs = []
    for epoch in range(len(logs["loss"])):
        row: dict[str, float] = {"epoch": epoch + 1}
        row.update({name: float(values[epoch]) for name, values in logs.items()})
        row.pop("learning_rate", None)  # the schedule is in the recipe; this is only its last step
        row["seconds"] = round(seconds[epoch], 2)
        epochs.append(row)
    return epochs


def build_metrics(config: TrainConfig, corpus: Corpus, prepared: Prepared, fitted: Fitted) -> dict[str, Any]:
    """metrics.json: what was trained on, how it went, and what the kept model scores."""
    validation = scores(predict_probabilities(fitted.model, prepared.validation.ids), prepared.validation.labels,
                        corpus.label_names)
    validation.pop("labels")  # recorded once, at the top
    return {
        "edgelstm": __version__,
        "labels": list(corpus.label_names),
        "history": fitted.history,
        "best_epoch": fitted.best_epoch,
        "kept_epoch": fitted.kept_epoch,
        "epochs_run": len(fitted.history),
        "stopped_early": fitted.stopped_early,
        "validation": {**validation, "examples": int(len(prepared.validation.labels))},
        "training_examples": int(len(prepared.train.labels)),
        "training_seconds": round(fitted.seconds, 1),
        "data": corpus.fingerprint(),
        "seed": config.seed,
        "recipe": recipe(config, fitted),
        "libraries": library_versions(),
    }


def recipe(config: TrainConfig, fitted: Fitted) -> dict[str, Any]:
    """Everything that decides the metrics: the full config, the optimizer, and the machine
    (the CPU's instruction set picks the kernels; the thread count is recorded to show it does not matter)."""
    optimizer = "AdamW" if config.weight_decay else "Adam"
    classes = labels_of_width(int(fitted.model.output_shape[-1]))
    return {"config": config.to_dict(), "optimizer": optimizer, "loss": LOSSES[output_kind(classes)],
            "op_determinism": True, "threads": fitted.threads, "cpus": os.cpu_count(), "cpu": cpu_model(),
            "cpu_simd": cpu_flags(), "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")}


def write_run(folder: Path, config: TrainConfig, prepared: Prepared, fitted: Fitted, metrics: dict[str, Any]) -> None:
    """The files of docs/contracts.md, into `folder`."""
    fitted.model.save(folder / rundir.MODEL)  # uncompiled: no optimizer state
    validation = prepared.validation
    # The raw texts too, when the source has them: export checks the mobile variant on them
    # through MediaPipe's own tokenizer.
    texts = textarrays.pack(validation.texts) if validation.texts is not None else {}
    calibration = calibration_sample(prepared.train, config.calibration_size, seed=config.seed)
    rundir.write_files(folder, tokenizer=prepared.tokenizer, config=config.to_dict(), metrics=metrics,
                       validation={"ids": validation.ids, "labels": validation.labels, "lengths": validation.lengths,
                                   **texts},
                       calibration={"ids": calibration.ids, "labels": calibration.labels})
