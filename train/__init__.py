"""The training stage: data -> Keras LSTM classifier -> run directory (docs/contracts.md).

    from edgelstm.train import TrainConfig, train
    train(TrainConfig(data="synthetic"), "out/demo/run")

Importing this package is light; TensorFlow loads when `train` runs.
"""

from __future__ import annotations

from pathlib import Path

from edgelstm.train.config import TrainConfig

__all__ = ["TrainConfig", "train"]


def train(config: TrainConfig, out: str | Path, *, force: bool = False, verbose: int = 1) -> Path:
    """See `edgelstm.train.fit.train`."""
    from edgelstm.train.fit import train as _train

    return _train(config, out, force=force, verbose=verbose)
