"""Make Keras 3.15 `model.fit` work under tf.distribute.MultiWorkerMirroredStrategy.

Stock Keras 3.15.1 fails there with two or more workers (keras-team/keras #20585, open;
tests/test_train_multiworker.py keeps a test that shows whether it still does, so this
module can be deleted the day Keras mends it). Both causes are in
keras/src/backend/tensorflow/trainer.py:

1. `_maybe_symbolic_build` hands the first distributed `(x, y)` batch to `strategy.reduce`,
   which takes no nested structure. The build only needs shapes and dtypes, so one local
   replica's batch serves as well.
2. `reduce_per_replica` reduces every logged value along axis 0 under a multi-worker
   strategy, but losses and metric results are scalars (tensorflow #72388). A scalar is
   reduced over the replicas alone (axis None); anything with a batch axis as before.

`active()` installs both replacements only while a multi-worker fit runs and restores
Keras afterwards, so single-process training never runs this code. It touches private
Keras internals: pyproject.toml pins keras to 3.15.x for that reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _trainer_module() -> Any:
    from keras.src.backend.tensorflow import trainer

    return trainer


def _first_replica(strategy: Any, structure: Any) -> Any:
    import tensorflow as tf
    from keras.src import tree

    def local(value: Any) -> Any:
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    return tree.map_structure(local, structure)


def _symbolic_build_on_one_replica(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
    """Cause 1: build the model from one replica's batch instead of reducing the (x, y) tuple."""
    strategy = self._distribute_strategy
    if strategy is None:
        return
    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = _first_replica(strategy, next(batches))
            break
    with strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def _reducer(original: Any) -> Any:
    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        """Cause 2: a rank-0 value is averaged over replicas with axis=None, not axis=0."""
        trainer = _trainer_module()
        if reduction not in ("mean", "auto") or not trainer._collective_all_reduce_multi_worker(strategy):
            return original(values, strategy, reduction)
        from keras.src import tree

        def mean(value: Any) -> Any:
            rank = strategy.experimental_local_results(value)[0].shape.rank
            return strategy.reduce("MEAN", value, axis=0 if rank else None)

        return tree.map_structure(mean, values)

    return reduce_per_replica


@contextmanager
def active() -> Iterator[None]:
    """Both replacements in place for the duration of a multi-worker `fit`; Keras restored after."""
    trainer = _trainer_module()
    build, reduce = trainer.TensorFlowTrainer._maybe_symbolic_build, trainer.reduce_per_replica
    trainer.TensorFlowTrainer._maybe_symbolic_build = _symbolic_build_on_one_replica
    trainer.reduce_per_replica = _reducer(reduce)
    try:
        yield
    finally:
        trainer.TensorFlowTrainer._maybe_symbolic_build = build
        trainer.reduce_per_replica = reduce
