"""Keras model -> ONNX (tf2onnx, one LSTM node) and its dynamic int8 form (onnxruntime).

Runs in a conversion subprocess like the TFLite routes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgelstm.core.family import GRU
from edgelstm.core.variants import TF2ONNX
from edgelstm.export import keras_model
from edgelstm.export.jobs import ConversionJob

# tf2onnx 1.17 stops at opset 18; 17 leaves room for the older onnxruntime releases devices carry.
OPSET = 17
INPUT_NAME, OUTPUT_NAME = "ids", "probability"
BATCH_AXIS, STEPS_AXIS = "batch", "steps"
# Signed int8 weights: onnxruntime's default; QUInt8 measured no faster on this x86 CPU.
WEIGHT_TYPE = "QInt8"


def tf2onnx_fp32(job: ConversionJob) -> dict[str, Any]:
    """The `tf2onnx` route's converter: returns the converter settings the manifest records."""
    return convert(job.model, job.out)


def quantize_dynamic(job: ConversionJob) -> dict[str, Any]:
    """The `ort-quantize-dynamic` route's converter: quantizes the source variant's file (onnx-fp32)."""
    if job.source is None:
        raise ValueError("the ort-quantize-dynamic route needs its source variant's file")
    return quantize(job.source, job.out)


def convert(model_path: Path, out: Path) -> dict[str, Any]:
    """tf2onnx from a tf.function with [None, None] ids and [None, H] states (from_keras fails on Keras 3)."""
    import tensorflow as tf
    import tf2onnx

    model = keras_model.load_model(model_path)
    arch = keras_model.architecture(model)
    # The stateful twin: dynamic length and each layer's initial state as inputs, for the fast
    # path (docs/contracts.md); zero states and maxlen ids give the padded model's outputs.
    # A stack with a GRU is rebuilt in tf_keras, whose GRU tf2onnx turns into one GRU node
    # (Keras 3's becomes a Loop of small ops).
    twin = keras_model.twin(model, batch_size=None, module=_tf_keras() if _has_gru(arch) else None)
    length = None if arch.fast_path else arch.maxlen
    signature = [tf.TensorSpec([None, length], tf.int32, name=INPUT_NAME)] + [
        tf.TensorSpec([None, arch.state_units(role)], tf.float32, name=role) for role in arch.state_roles]
    function = tf.function(lambda *inputs: twin(list(inputs) if len(inputs) > 1 else inputs[0], training=False),
                           input_signature=signature)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=OPSET)
    _name_interface(proto)
    _save(proto, out)
    return {"tf2onnx": tf2onnx.__version__, "opset": OPSET}


def _has_gru(arch: keras_model.Architecture) -> bool:
    return any(layer.cell == GRU for layer in arch.recurrent)


def _tf_keras() -> Any:
    import tf_keras

    return tf_keras


def quantize(source: Path, out: Path) -> dict[str, Any]:
    """onnxruntime dynamic quantization: the LSTM becomes com.microsoft DynamicQuantizeLSTM."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(out), weight_type=QuantType[WEIGHT_TYPE])
    return {"weight_type": WEIGHT_TYPE, "source_route": TF2ONNX}


def _name_interface(proto: Any) -> None:
    """Name the batch axis and the output for readers of the model (tf2onnx: 'unk__87', 'Identity:0')."""
    graph = proto.graph
    for value in list(graph.input) + list(graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_AXIS
    for value in graph.input:
        if value.name == INPUT_NAME and not value.type.tensor_type.shape.dim[1].dim_value:
            value.type.tensor_type.shape.dim[1].dim_param = STEPS_AXIS
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = [OUTPUT_NAME if name == old else name for name in node.output]
    graph.output[0].name = OUTPUT_NAME


def _save(proto: Any, out: Path) -> None:
    import onnx

    onnx.save(proto, str(out))
