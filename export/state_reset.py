"""A fused LSTM file that zeroes its own state: one FILL op per variable tensor, run first.

TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM keeps its state (h and c) in variable tensors,
which persist between invocations: an app that invokes the file once per text and never
calls `reset_all_variables()` (every app does) gets each text continued from the previous
one's state. The converter offers no other form of the fused op, and the stateless graphs
cost accuracy in full int8 (the unrolled graph quantizes the cell state at every step) or
crash the converter (the WHILE graph). So the file is rewritten: a FILL op at the head of
the subgraph writes the tensor's zero (its quantized zero point) into each variable tensor,
and every invocation starts from the zero state the model was trained from, like Keras.

FILL is a builtin op in every interpreter (int8 and int16 values from version 3, which
tflite-runtime 2.14 runs); integer files stay integer. Read and written with the flatbuffer
schema that ships with ai-edge-litert, no TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# What the manifest's converter settings record of a file rewritten here.
SETTING = "zeroed by the graph: one FILL per variable tensor runs first"
# The lowest FILL version that takes a value of each tensor type (TFLite's op_version table).
_FILL_VERSIONS = {"INT8": 3, "INT16": 3}
_VALUE_TYPES = {"FLOAT32": np.float32, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32}


def zero_state_on_entry(content: bytes) -> bytes:
    """The same model with every variable tensor set to zero by the graph itself before any op reads it."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(content, 0))
    for graph in model.subgraphs:
        variables = [index for index, tensor in enumerate(graph.tensors) if tensor.isVariable]
        resets = [_fill_zero(model, graph, index, schema) for index in variables]
        graph.operators = resets + list(graph.operators or [])
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def state_kept(graph: Any) -> bool:
    """True when some variable tensor of `graph` (a schema Subgraph) carries a value from one
    invocation to the next: it is read before (or without) an op writing it in the same invocation."""
    first_write: dict[int, int] = {}
    first_read: dict[int, int] = {}
    for position in range(graph.OperatorsLength()):
        operator = graph.Operators(position)
        for index in operator.InputsAsNumpy() if operator.InputsLength() else []:
            first_read.setdefault(int(index), position)
        for index in operator.OutputsAsNumpy() if operator.OutputsLength() else []:
            first_write.setdefault(int(index), position)
    for index in range(graph.TensorsLength()):
        if graph.Tensors(index).IsVariable():
            written = first_write.get(index)
            if written is None or written >= first_read.get(index, written + 1):
                return True
    return False


def _fill_zero(model: Any, graph: Any, target: int, schema: Any) -> Any:
    """A FILL op writing the zero of tensor `target` (its zero point when quantized) over its shape."""
    tensor = graph.tensors[target]
    type_name = _type_name(tensor.type, schema)
    if type_name not in _VALUE_TYPES:
        raise ValueError(f"variable tensor {tensor.name!r} is {type_name}: the state reset handles "
                         f"{', '.join(_VALUE_TYPES)}")
    quantization = tensor.quantization
    zero_points = getattr(quantization, "zeroPoint", None)
    zero = int(zero_points[0]) if zero_points is not None and len(zero_points) else 0
    name = (tensor.name or b"state").decode("utf-8", "replace")
    dims = _constant(model, graph, f"{name}/zero_state_dims", np.asarray(tensor.shape, np.int32),
                     schema.TensorType.INT32, None, schema)
    # FILL asks the value to be quantized exactly as its output.
    value = _constant(model, graph, f"{name}/zero_state_value", np.asarray(zero, _VALUE_TYPES[type_name]),
                      tensor.type, _copy_quantization(quantization, schema), schema)
    operator = schema.OperatorT()
    operator.opcodeIndex = _opcode(model, schema.BuiltinOperator.FILL, _FILL_VERSIONS.get(type_name, 1), schema)
    operator.inputs = np.asarray([dims, value], np.int32)
    operator.outputs = np.asarray([target], np.int32)
    operator.builtinOptionsType = schema.BuiltinOptions.FillOptions
    operator.builtinOptions = schema.FillOptionsT()
    return operator


def _constant(model: Any, graph: Any, name: str, array: np.ndarray, tensor_type: int, quantization: Any,
              schema: Any) -> int:
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(array.tobytes(), np.uint8)
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.name = name.encode("utf-8")
    tensor.shape = np.asarray(array.shape, np.int32)
    tensor.type = tensor_type
    tensor.buffer = len(model.buffers) - 1
    tensor.quantization = quantization
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _copy_quantization(quantization: Any, schema: Any) -> Any:
    if quantization is None or getattr(quantization, "scale", None) is None:
        return None
    copy = schema.QuantizationParametersT()
    copy.scale, copy.zeroPoint = quantization.scale, quantization.zeroPoint
    return copy


def _opcode(model: Any, builtin: int, version: int, schema: Any) -> int:
    """Index of the operator code (builtin, version), added when the model has none."""
    for index, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin and code.version == version:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    # Codes above 127 live in builtinCode only (schema: PLACEHOLDER_FOR_GREATER_OP_CODES).
    code.deprecatedBuiltinCode = min(builtin, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _type_name(tensor_type: int, schema: Any) -> str:
    return next(key for key, value in vars(schema.TensorType).items() if value == tensor_type and not key.startswith("_"))
