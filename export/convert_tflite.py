"""Keras model -> .tflite by one of the three TFLite routes of the variant table (core/variants.py).

Runs in a conversion subprocess: the converter may segfault (full int8 on the
WHILE graph does), and that must fail one variant, not the export.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core.variants import KERAS3_UNROLLED, KERAS3_WHILE, TF_KERAS_FUSED
from edgelstm.export import keras_model, state_reset
from edgelstm.export.jobs import ConversionJob

INPUT_NAME = "ids"
# A dynamic batch fails ('tf.TensorListReserve' op requires element_shape to be static):
# every TFLite model here reads one sequence per invocation.
BATCH = 1


def keras3_while(job: ConversionJob) -> dict[str, Any]:
    """The `keras3-while` route's converter: returns the converter settings the manifest records."""
    return convert(job.model, job.out, route=KERAS3_WHILE, precision=job.precision, calibration_path=job.calibration)


def tf_keras_fused(job: ConversionJob) -> dict[str, Any]:
    """The `tf_keras-fused` route's converter: returns the converter settings the manifest records."""
    return convert(job.model, job.out, route=TF_KERAS_FUSED, precision=job.precision, calibration_path=job.calibration)


def keras3_unrolled(job: ConversionJob) -> dict[str, Any]:
    """The `keras3-unrolled` route's converter: returns the converter settings the manifest records."""
    return convert(job.model, job.out, route=KERAS3_UNROLLED, precision=job.precision,
                   calibration_path=job.calibration)


def convert(model_path: Path, out: Path, *, route: str, precision: str, calibration_path: Path) -> dict[str, Any]:
    """Write the .tflite file; returns the converter settings used."""
    model = keras_model.load_model(model_path)
    arch = keras_model.architecture(model)
    with tempfile.TemporaryDirectory(prefix="edgelstm-savedmodel-") as scratch:
        if route == KERAS3_WHILE:
            converter = _keras3_while(model, arch, Path(scratch))
        elif route == TF_KERAS_FUSED:
            converter = _tf_keras_fused(model)
        elif route == KERAS3_UNROLLED:
            converter = unrolled_converter(model, arch, Path(scratch))
        else:
            raise ValueError(f"unknown TFLite route {route!r}")
        # The WHILE route's model also takes the recurrent states: calibrate it from the zero state.
        states = {role: arch.state_units(role) for role in arch.state_roles} if route == KERAS3_WHILE else {}
        settings = set_precision(converter, precision, calibration_path, states)
        if route == TF_KERAS_FUSED and precision == "int8":
            # MLIR's quantizer calibrates the fused op's int16 cell state to a range far too narrow on a
            # model of modest confidence (+-0.125 on a 2,000-review IMDB model): the state clips and every
            # text gets the same score. The legacy calibrator sees the cell state's real range (+-1 there).
            converter.experimental_new_quantizer = False
            settings["quantizer"] = "legacy"
        content = converter.convert()
    if route == TF_KERAS_FUSED:  # the fused op keeps its state in variable tensors: the file zeroes them itself
        content = state_reset.zero_state_on_entry(content)
        settings["state"] = state_reset.SETTING
    out.write_bytes(content)
    return settings


def _keras3_while(model: Any, arch: keras_model.Architecture, scratch: Path) -> Any:
    """Keras 3's own SavedModel export with a batch-1 signature: each recurrent layer becomes a WHILE loop.

    The stateful twin (inputs ids [1, None] and each layer's initial state: h0, c0, h0_layer1,
    ...) is exported: its length is dynamic (resize the ids input per text) and its initial
    states inputs, so the runtime can skip the padding (docs/contracts.md, "Fast path"); zero
    states and maxlen ids is the padded model. A bidirectional stack has no state inputs and
    reads ids [1, maxlen] (core.family.PADDED_ONLY_BIDIRECTIONAL).
    """
    import tensorflow as tf

    twin = keras_model.stateful_twin(model, batch_size=BATCH)
    length = None if arch.fast_path else arch.maxlen
    signature = [[tf.TensorSpec([BATCH, length], tf.int32, name=INPUT_NAME)]
                 + [tf.TensorSpec([BATCH, arch.state_units(role)], tf.float32, name=role) for role in arch.state_roles]]
    twin.export(str(scratch), format="tf_saved_model", input_signature=signature, verbose=False)
    return tf.lite.TFLiteConverter.from_saved_model(str(scratch))


def unrolled_twin(model: Any, arch: keras_model.Architecture) -> Any:
    """The same weights in a Keras 3 model whose recurrent layers are unrolled over maxlen steps, batch 1.

    One subgraph of builtin ops and no variable tensors: every invocation starts from the
    zero state, so a plain interpreter (an app, MediaPipe) gets the right answer without
    resetting anything. The steps share one weight buffer: the file stays the fused size
    plus a few percent.
    """
    # Every member of the recurrent family (core.family), each layer unrolled; input `ids`.
    return keras_model.twin(model, batch_size=BATCH, state_inputs=False, unroll=True)


def saved_model_converter(twin: Any, serve: Any, signature: list[Any], scratch: Path) -> Any:
    """`serve(*inputs)` over the tracked `twin` as a SavedModel, and a converter from it.

    Keras 3's ExportArchive freezes the variables; a concrete function of a Keras 3 model
    handed to the converter directly keeps them as VAR_HANDLEs (NaN or a crash at run time).
    """
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(twin)
    archive.add_endpoint("serve", serve, input_signature=signature)
    archive.write_out(str(scratch), verbose=False)
    return tf.lite.TFLiteConverter.from_saved_model(str(scratch))


def unrolled_converter(model: Any, arch: keras_model.Architecture, scratch: Path) -> Any:
    import tensorflow as tf

    twin = unrolled_twin(model, arch)
    return saved_model_converter(twin, twin, [tf.TensorSpec([BATCH, arch.maxlen], tf.int32, name=INPUT_NAME)],
                                 scratch)


def _tf_keras_fused(model: Any) -> Any:
    """The same weights in a tf_keras (Keras 2) rebuild: each LSTM direction converts to one fused
    UNIDIRECTIONAL_SEQUENCE_LSTM op (a GRU has no fused op and stays a WHILE loop)."""
    import tensorflow as tf
    import tf_keras

    twin = keras_model.twin(model, batch_size=BATCH, module=tf_keras, state_inputs=False)
    return tf.lite.TFLiteConverter.from_keras_model(twin)


def set_precision(converter: Any, precision: str, calibration_path: Path, states: dict[str, int] | None) -> dict[str, Any]:
    """Configure quantization; returns the settings for the manifest."""
    import tensorflow as tf

    if precision == "fp32":
        return {"optimizations": []}
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "fp16":
        converter.target_spec.supported_types = [tf.float16]
        return {"optimizations": ["DEFAULT"], "supported_types": ["float16"]}
    if precision == "dynint8":
        # Per-tensor int8 weights for the dense layers keep FULLY_CONNECTED at version 9, which
        # tflite-runtime 2.14 loads (per-channel gives version 12, which it cannot); the WHILE
        # route keeps per-channel weights since only ai-edge-litert runs its dynamic-int8 form.
        if not states:  # a model without state inputs (fused, unrolled, or a bidirectional stack's)
            converter._experimental_disable_per_channel_quantization_for_dense_layers = True
            converter._experimental_disable_per_channel = True
            return {"optimizations": ["DEFAULT"], "per_channel_dense": False}
        return {"optimizations": ["DEFAULT"]}
    if precision == "int8":
        calibration = _calibration_ids(calibration_path)
        converter.representative_dataset = lambda: _one_row_at_a_time(calibration, states or {})
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # Input stays int32 (token ids exceed int8) and output float32 (a probability).
        return {"optimizations": ["DEFAULT"], "supported_ops": ["TFLITE_BUILTINS_INT8"],
                "representative_rows": len(calibration), "representative_file": "calibration.npz"}
    raise ValueError(f"unknown TFLite precision {precision!r}")


def _calibration_ids(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as data:
        return data["ids"].astype(np.int32)


def _one_row_at_a_time(ids: np.ndarray, states: dict[str, int]) -> Iterator[Any]:
    """Calibration rows; `states`: state input -> units of a model that takes them (fed zeros)."""
    for row in range(len(ids)):
        if not states:
            yield [ids[row:row + BATCH]]
        else:  # the signature's inputs by name, the padded way: zero initial states
            yield {INPUT_NAME: ids[row:row + BATCH],
                   **{role: np.zeros((BATCH, units), np.float32) for role, units in states.items()}}
