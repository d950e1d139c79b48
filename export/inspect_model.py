"""What an exported file holds (ops, inputs, outputs) and whether a device can run it.

No TensorFlow: TFLite files are read with the flatbuffer schema that ships with
ai-edge-litert, ONNX files with the onnx package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgelstm.core import family
from edgelstm.export.state_reset import state_kept

DEFAULT_ONNX_DOMAIN = "ai.onnx"
# ONNX ops that hold one recurrent layer (both directions of a bidirectional one), per cell;
# Loop/Scan mean a layer was unrolled into a loop of small ops.
ONNX_RECURRENT_OPS = {family.LSTM: ("ai.onnx:LSTM", "com.microsoft:DynamicQuantizeLSTM"), family.GRU: ("ai.onnx:GRU",)}
ONNX_LSTM_OPS = tuple(op for ops in ONNX_RECURRENT_OPS.values() for op in ops)
ONNX_LOOP_OPS = ("ai.onnx:Loop", "ai.onnx:Scan")
_TFLITE_SIGNATURE_PREFIX = "serving_default_"
# What the manifest records of each format (docs/contracts.md, variant entry).
TFLITE_FIELDS = ("ops", "op_versions", "reset_variables", "inputs", "outputs", "batch")
ONNX_FIELDS = ("ops", "opset", "inputs", "outputs", "batch")


def tflite_info(path: Path) -> dict[str, Any]:
    """Op names per subgraph, highest version per op, custom ops, inputs/outputs, and whether the file
    keeps state between invocations (a variable tensor the graph does not zero before reading it)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    names = {value: key for key, value in vars(schema.BuiltinOperator).items() if not key.startswith("_")}
    ops: list[list[str]] = []
    versions: dict[str, int] = {}
    custom: set[str] = set()
    keeps_state = False
    for index in range(model.SubgraphsLength()):
        graph = model.Subgraphs(index)
        seen = set()
        for position in range(graph.OperatorsLength()):
            code = model.OperatorCodes(graph.Operators(position).OpcodeIndex())
            # Codes above 127 live in BuiltinCode; DeprecatedBuiltinCode caps at 127 (PLACEHOLDER_FOR_GREATER_OP_CODES).
            number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = names.get(number, f"BUILTIN_{number}")
            if number == schema.BuiltinOperator.CUSTOM:
                name = f"CUSTOM:{(code.CustomCode() or b'').decode('utf-8', 'replace')}"
                custom.add(name)
            seen.add(name)
            versions[name] = max(versions.get(name, 0), code.Version())
        keeps_state = keeps_state or state_kept(graph)
        ops.append(sorted(seen))
    return {"ops": ops, "op_versions": dict(sorted(versions.items())), "custom_ops": sorted(custom),
            "reset_variables": keeps_state, **_tflite_io(model, schema)}


def tflite_problems(info: dict[str, Any]) -> list[str]:
    """Why no pip interpreter would run the model: Flex or other custom ops."""
    flex = [op for op in info["custom_ops"] if op.startswith("CUSTOM:Flex")]
    other = [op for op in info["custom_ops"] if op not in flex]
    problems = []
    if flex:
        problems.append(f"Flex (TensorFlow) ops {', '.join(flex)}: no pip TFLite interpreter runs them")
    if other:
        problems.append(f"custom ops {', '.join(other)}: only builtin ops are accepted")
    return problems


def _tflite_io(model: Any, schema: Any) -> dict[str, Any]:
    """Inputs, outputs and batch (1 when fixed) of the main subgraph, -1 for a dynamic axis."""
    # Lower-cased schema names are numpy's dtype names for every type a model here uses.
    types = {value: key.lower() for key, value in vars(schema.TensorType).items() if not key.startswith("_")}
    graph = model.Subgraphs(0)

    def describe(index: int) -> dict[str, Any]:
        tensor = graph.Tensors(index)
        signature = tensor.ShapeSignatureAsNumpy() if tensor.ShapeSignatureLength() else tensor.ShapeAsNumpy()
        return {"name": tensor.Name().decode("utf-8"), "dtype": types[tensor.Type()], "shape": [int(d) for d in signature]}

    inputs = [describe(graph.Inputs(i)) for i in range(graph.InputsLength())]
    outputs = [describe(graph.Outputs(i)) for i in range(graph.OutputsLength())]
    batch = inputs[0]["shape"][0] if inputs and inputs[0]["shape"][0] > 0 else None
    return {"inputs": inputs, "outputs": outputs, "batch": batch}


def fast_path_inputs(info: dict[str, Any]) -> dict[str, str] | None:
    """Role ("ids", and the states h0, c0, h0_layer1, ...) -> input name when the model takes its
    initial states (the fast path), else None.

    TFLite names them `serving_default_<name>:0`, ONNX keeps the signature's names.
    """
    from edgelstm.runtime.padding import fast_path_roles

    names = [value["name"] for value in info["inputs"]]
    if len(names) < 2:
        return None
    roles = {name.removeprefix(_TFLITE_SIGNATURE_PREFIX).removesuffix(":0"): name for name in names}
    if len(roles) != len(names) or not fast_path_roles(list(roles)):
        return None
    return {role: roles[role] for role in ["ids", *family.ordered_roles(role for role in roles if role != "ids")]}


def onnx_info(path: Path) -> dict[str, Any]:
    """Op types with domains, opsets, inputs/outputs (None for a named dynamic axis), checker result."""
    import onnx

    model = onnx.load(str(path))
    ops = sorted({f"{node.domain or DEFAULT_ONNX_DOMAIN}:{node.op_type}" for node in model.graph.node})
    counts = {op: sum(1 for n in model.graph.node if f"{n.domain or DEFAULT_ONNX_DOMAIN}:{n.op_type}" == op)
              for op in ONNX_LSTM_OPS + ONNX_LOOP_OPS}
    try:
        onnx.checker.check_model(model, full_check=True)
        checker = None
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        checker = str(error).strip().splitlines()[0]
    inputs = [_onnx_value(v) for v in model.graph.input]
    return {"ops": ops, "opset": {(o.domain or DEFAULT_ONNX_DOMAIN): int(o.version) for o in model.opset_import},
            "inputs": inputs, "outputs": [_onnx_value(v) for v in model.graph.output],
            "batch": inputs[0]["shape"][0] if inputs else None, "lstm_nodes": counts, "checker_error": checker}


def _onnx_value(value: Any) -> dict[str, Any]:
    from onnx import helper

    tensor = value.type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    return {"name": value.name, "dtype": helper.tensor_dtype_to_np_dtype(tensor.elem_type).name, "shape": shape}


def onnx_problems(info: dict[str, Any], recurrent: list[dict[str, Any]] | None = None) -> list[str]:
    """One recurrent node per layer of the stack (`recurrent`: core.family.RecurrentLayer dicts; default
    the classic single LSTM), no Loop or Scan, checker clean, dynamic batch axis."""
    counts = info["lstm_nodes"]
    problems = []
    for cell, ops in ONNX_RECURRENT_OPS.items():
        wanted = sum(1 for layer in recurrent or [{"cell": family.LSTM}] if layer["cell"] == cell)
        found = sum(counts[op] for op in ops)
        if found != wanted:
            problems.append(f"{found} {cell.upper()} nodes ({', '.join(ops)}), expected {wanted} (one per layer)")
    loops = [f"{op} x{counts[op]}" for op in ONNX_LOOP_OPS if counts[op]]
    if loops:
        problems.append(f"the graph loops ({', '.join(loops)}): a recurrent layer was not converted to one node")
    if info["checker_error"]:
        problems.append(f"onnx.checker refuses the model: {info['checker_error']}")
    if info["batch"] is not None:
        problems.append(f"batch axis is fixed to {info['batch']}, expected a dynamic axis")
    return problems
