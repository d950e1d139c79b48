"""Real (tiny) training runs: the run directory contract, determinism, atomic writes."""

from __future__ import annotations

import io
import json
import zipfile

import h5py
import numpy as np
import pytest

from edgelstm.core import rundir
from edgelstm.core.errors import ConfigError, DataError
from edgelstm.runtime.tokenizer import Tokenizer
from edgelstm.train import TrainConfig, train

pytestmark = pytest.mark.slow

TINY = dict(synthetic_size=300, vocab_size=150, maxlen=30, embedding_dim=8, lstm_units=8, epochs=2,
            batch_size=32, calibration_size=40)
# A recipe that overfits, to watch the best epoch being kept and early stopping end a run.
OVERFIT = dict(learning_rate=0.03, learning_rate_schedule="constant", clipnorm=None, embedding_dropout=0.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train(TrainConfig(**TINY), tmp_path_factory.mktemp("runs") / "tiny", verbose=0)


def test_run_directory_holds_exactly_the_contract_files(run):
    assert sorted(p.name for p in run.iterdir()) == sorted(rundir.RUN_FILES)
    assert not [p for p in run.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_model_is_embedding_lstm_dense_without_optimizer_state(run):
    import keras

    model = keras.saving.load_model(run / "model.keras", compile=False)
    weighted = [layer for layer in model.layers if layer.weights]
    assert [type(layer).__name__ for layer in weighted] == ["Embedding", "LSTM", "Dense"]
    assert model.input.shape == (None, TINY["maxlen"]) and model.input.dtype == "int32"
    assert weighted[0].input_dim == TINY["vocab_size"] and weighted[1].units == TINY["lstm_units"]
    # trained with dropout and L2 (the defaults), saved without: export sees the plain layers
    assert TrainConfig().dropout > 0 and TrainConfig().l2 > 0
    assert weighted[1].dropout == 0 and weighted[1].cell.kernel_regularizer is None
    assert weighted[0].embeddings_regularizer is None
    with zipfile.ZipFile(run / "model.keras") as archive:
        groups: list[str] = []
        h5py.File(io.BytesIO(archive.read("model.weights.h5"))).visit(groups.append)
        assert "layers/lstm/cell/vars/0" in groups and not [g for g in groups if "optimizer" in g]
        assert not json.loads(archive.read("config.json")).get("compile_config")


def test_arrays_have_the_contract_dtypes_and_shapes(run):
    metrics = json.loads((run / "metrics.json").read_text())
    with np.load(run / "validation.npz") as validation:
        n = metrics["validation"]["examples"]
        assert validation["ids"].dtype == np.int32 and validation["ids"].shape == (n, TINY["maxlen"])
        assert validation["labels"].dtype == np.int8 and set(np.unique(validation["labels"])) == {0, 1}
        assert validation["lengths"].dtype == np.int32
        # front padding: the real tokens are the last `length` ids, none of them padding
        for ids, length in zip(validation["ids"], validation["lengths"]):
            assert np.all(ids[:TINY["maxlen"] - length] == 0) and np.all(ids[TINY["maxlen"] - length:] > 0)
    with np.load(run / "calibration.npz") as calibration:
        assert calibration["ids"].shape == (40, TINY["maxlen"]) and calibration["ids"].dtype == np.int32
        assert calibration["labels"].dtype == np.int8 and int(calibration["labels"].sum()) == 20


def test_metrics_record_history_labels_fingerprint_and_versions(run):
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["labels"] == ["neg", "pos"]
    assert [row["epoch"] for row in metrics["history"]] == list(range(1, metrics["epochs_run"] + 1))
    best = metrics["history"][metrics["best_epoch"] - 1]
    assert best["val_bce"] == min(row["val_bce"] for row in metrics["history"])
    kept = best if TrainConfig().restore_best else metrics["history"][-1]  # the default decides which
    assert metrics["kept_epoch"] == kept["epoch"]
    assert metrics["validation"]["loss"] == pytest.approx(kept["val_bce"], abs=1e-4)  # the kept weights
    assert metrics["data"]["counts"] == {"neg": 150, "pos": 150} and len(metrics["data"]["sha256"]) == 64
    assert metrics["training_examples"] + metrics["validation"]["examples"] == 300
    assert {"keras", "numpy"} <= set(metrics["libraries"]) and metrics["seed"] == 0
    assert TrainConfig.from_dict(json.loads((run / "config.json").read_text())) == TrainConfig(**TINY)
    assert Tokenizer.load(run / "tokenizer.json").maxlen == TINY["maxlen"]


def _without_wall_time(metrics: dict) -> dict:
    """metrics.json minus what a clock decides (epoch and total seconds)."""
    history = [{k: v for k, v in row.items() if k != "seconds"} for row in metrics["history"]]
    return {**metrics, "history": history, "training_seconds": None}


def test_same_seed_and_data_give_the_same_metrics_epoch_by_epoch(run, tmp_path):
    again = train(TrainConfig(**TINY), tmp_path / "again", verbose=0)
    first, second = (json.loads((r / "metrics.json").read_text()) for r in (run, again))
    assert len(first["history"]) == 2
    assert _without_wall_time(first) == _without_wall_time(second)  # every figure, exactly
    with np.load(run / "validation.npz") as a, np.load(again / "validation.npz") as b:
        assert np.array_equal(a["ids"], b["ids"])
    other = train(TrainConfig(**{**TINY, "seed": 1}), tmp_path / "other", verbose=0)
    assert json.loads((other / "metrics.json").read_text())["validation"] != first["validation"]


def test_metrics_record_each_epochs_wall_time_and_the_full_recipe(run):
    metrics = json.loads((run / "metrics.json").read_text())
    assert all(row["seconds"] > 0 for row in metrics["history"])
    assert sum(row["seconds"] for row in metrics["history"]) <= metrics["training_seconds"] + 0.1
    recipe = metrics["recipe"]
    assert TrainConfig.from_dict(recipe["config"]) == TrainConfig(**TINY)
    assert recipe["optimizer"] == "Adam" and recipe["op_determinism"] is True
    assert recipe["threads"] >= 1 and recipe["cpus"] >= 1


def test_recipe_options_train_and_leave_the_three_layer_model(tmp_path):
    config = TrainConfig(**{**TINY, "embedding_dropout": 0.2, "weight_decay": 1e-4, "clipnorm": 1.0,
                            "learning_rate_schedule": "cosine", "early_stopping_patience": 0})
    out = train(config, tmp_path / "recipe", verbose=0)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["recipe"]["optimizer"] == "AdamW" and metrics["epochs_run"] == 2
    assert np.isfinite(metrics["validation"]["loss"])
    import keras

    model = keras.saving.load_model(out / "model.keras", compile=False)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Embedding", "LSTM", "Dense"]


def test_training_prints_each_epochs_time_and_the_time_left(tmp_path, capsys):
    train(TrainConfig(**{**TINY, "epochs": 2, "early_stopping_patience": 0}), tmp_path / "r", verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2
    assert " s left" in lines[0] and lines[0].startswith("epoch 1/2: ")
    assert lines[1].startswith("epoch 2/2: ") and "in all" in lines[1]


def test_time_left_is_the_mean_epoch_times_the_epochs_to_go():
    from edgelstm.train.fit import time_left_line

    assert time_left_line(1, 4, [10.0], may_stop_early=False) == "epoch 1/4: 10 s, about 30 s left"
    # the first epoch also compiles: once a second one is timed, it no longer counts
    assert time_left_line(2, 4, [30.0, 20.0], may_stop_early=True).endswith(
        "about 40 s left at most (early stopping may end sooner)")
    assert time_left_line(3, 4, [30.0, 20.0, 10.0], may_stop_early=False).endswith("about 15 s left")
    assert time_left_line(4, 4, [1.0, 2.0, 3.0, 4.0], may_stop_early=True) == "epoch 4/4: 4 s, 10 s in all"


def test_existing_target_is_refused_without_force_before_any_work(run):
    before = (run / "metrics.json").read_text()
    with pytest.raises(ConfigError, match="already exists: pass --force"):
        train(TrainConfig(**TINY), run, verbose=0)
    assert (run / "metrics.json").read_text() == before


def test_force_replaces_only_run_directories(tmp_path):
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match="not a run directory"):
        train(TrainConfig(**TINY), keep, force=True, verbose=0)
    assert (keep / "thesis.tex").exists()


def test_failures_leave_nothing_behind(tmp_path):
    with pytest.raises(DataError):
        train(TrainConfig(**{**TINY, "data": str(tmp_path / "missing.csv")}), tmp_path / "run", verbose=0)
    with pytest.raises(KeyboardInterrupt):
        with rundir.staging(tmp_path / "run", force=False) as folder:
            (folder / "model.keras").write_text("half written")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_forced_replacement_swaps_the_whole_folder(tmp_path):
    target = tmp_path / "run"
    with rundir.staging(target, force=False) as folder:
        (folder / "config.json").write_text("{}")
        (folder / "old-only").write_text("x")
    with rundir.staging(target, force=True) as folder:
        (folder / "config.json").write_text('{"new": true}')
    assert sorted(p.name for p in target.iterdir()) == ["config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("restore_best", [True, False])
def test_the_epoch_with_the_lowest_validation_loss_is_kept(tmp_path, restore_best):
    # A constant learning rate this high overfits 240 reviews after the first epoch.
    config = TrainConfig(**{**TINY, **OVERFIT, "epochs": 3, "early_stopping_patience": 0,
                            "restore_best": restore_best})
    metrics = json.loads((train(config, tmp_path / "r", verbose=0) / "metrics.json").read_text())
    losses = [row["val_bce"] for row in metrics["history"]]
    assert len(losses) == 3 and metrics["best_epoch"] == 1 + losses.index(min(losses)) < 3
    kept = metrics["best_epoch"] if restore_best else 3
    assert metrics["kept_epoch"] == kept
    assert metrics["validation"]["loss"] == pytest.approx(losses[kept - 1], abs=1e-4)


def test_training_stops_after_patience_epochs_without_improvement(tmp_path):
    config = TrainConfig(**{**TINY, **OVERFIT, "epochs": 4, "early_stopping_patience": 1})
    metrics = json.loads((train(config, tmp_path / "r", verbose=0) / "metrics.json").read_text())
    assert metrics["stopped_early"] and metrics["epochs_run"] == metrics["best_epoch"] + 1 < 4


def test_run_folder_gets_ordinary_permissions(run):
    import os

    mask = os.umask(0)
    os.umask(mask)
    assert run.stat().st_mode & 0o777 == 0o777 & ~mask


def test_clipnorm_zero_means_no_clipping():
    import keras

    from edgelstm.train.fit import _optimizer

    assert _optimizer(keras, TrainConfig(clipnorm=0.0), steps_per_epoch=10).global_clipnorm is None
    assert _optimizer(keras, TrainConfig(), steps_per_epoch=10).global_clipnorm == TrainConfig().clipnorm == 1.0
