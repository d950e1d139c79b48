"""The fused LSTM file zeroes its own state (export/state_reset.py), so an app that never resets gets Keras' answer.

On the tiny bundle's tflite-int8 (the fused full-int8 op, whose h and c live in variable
tensors): the FILL ops export put at the head of the graph are what makes it stateless.
Taken out again, the same file drifts row after row on one interpreter, and put back by
`zero_state_on_entry`, it gives a fresh interpreter's answers.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from edgelstm.export.inspect_model import tflite_info
from edgelstm.export.state_reset import zero_state_on_entry
from edgelstm.runtime.bundle import Bundle

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="needs ai-edge-litert")
schema = pytest.importorskip("ai_edge_litert.schema_py_generated", reason="needs ai-edge-litert")
flatbuffers = pytest.importorskip("flatbuffers", reason="needs flatbuffers (ai-edge-litert's dependency)")
ROWS = 30
# Reading an intermediate tensor needs experimental_preserve_all_tensors, which LiteRT warns is for debugging.
pytestmark = pytest.mark.filterwarnings("ignore:Warning. Enabling .experimental_preserve_all_tensors.:UserWarning")
FILL = schema.BuiltinOperator.FILL
LSTM_OP = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM


def _model(content: bytes):
    return schema.ModelT.InitFromObj(schema.Model.GetRootAs(content, 0))


def _builtin(model, op) -> int:
    """The op's builtin operator (codes past 127 live in builtinCode, older ones in deprecatedBuiltinCode)."""
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _pack(model) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def without_state_resets(content: bytes) -> bytes:
    """The file as the converter wrote it: every op writing a variable tensor removed."""
    model = _model(content)
    for graph in model.subgraphs:
        variables = {index for index, tensor in enumerate(graph.tensors) if tensor.isVariable}
        graph.operators = [op for op in graph.operators if not variables & {int(i) for i in op.outputs}]
    return _pack(model)


def recurrent_outputs(content: bytes) -> int:
    """The index of the fused LSTM op's output: every step's h, [1, maxlen, H]."""
    model = _model(content)
    (op,) = [op for op in model.subgraphs[0].operators if _builtin(model, op) == LSTM_OP]
    return int(op.outputs[0])


def plain_and_fresh(content: bytes, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every step's h, row after row on one interpreter never reset, and each row on a fresh interpreter.

    The steps, not the probability: a well-trained model forgets a carried state within its
    padding steps, and the int8 output (steps of 1/256, saturated near 0 and 1) then rounds the
    drift away, though the first steps still start from the last row's state.
    """
    steps = recurrent_outputs(content)

    def make():
        interpreter = litert.Interpreter(model_content=content, experimental_preserve_all_tensors=True)
        interpreter.allocate_tensors()
        return interpreter

    def run(interpreter, row) -> np.ndarray:
        (source,) = interpreter.get_input_details()
        interpreter.set_tensor(source["index"], row[None].astype(source["dtype"]))
        interpreter.invoke()
        return interpreter.get_tensor(steps).copy()

    one = make()
    return np.stack([run(one, row) for row in ids]), np.stack([run(make(), row) for row in ids])


@pytest.fixture(scope="module")
def fused(tiny_bundle: Path) -> bytes:
    bundle = Bundle.open(tiny_bundle)
    entry = bundle.variant("tflite-int8")
    assert entry.route == "tf_keras-fused"
    return bundle.read_checked(entry.file)


@pytest.fixture(scope="module")
def ids(tiny_bundle: Path) -> np.ndarray:
    return Bundle.open(tiny_bundle).golden()["ids"][:ROWS]


def test_a_fill_op_zeroes_each_state_tensor_before_any_op_reads_it(fused: bytes) -> None:
    model = _model(fused)
    graph = model.subgraphs[0]
    variables = [index for index, tensor in enumerate(graph.tensors) if tensor.isVariable]
    assert len(variables) == 2  # the fused op's h and c
    head = graph.operators[:len(variables)]
    assert all(_builtin(model, op) == FILL for op in head)
    assert sorted(int(op.outputs[0]) for op in head) == variables
    for op in head:  # the value written is the tensor's own zero: its zero point, same quantization
        target, value = graph.tensors[int(op.outputs[0])], graph.tensors[int(op.inputs[1])]
        assert value.type == target.type and list(value.quantization.scale) == list(target.quantization.scale)
        stored = np.frombuffer(bytes(model.buffers[value.buffer].data), dtype=np.int8 if target.type ==
                               schema.TensorType.INT8 else np.int16)
        assert int(stored[0]) == int(target.quantization.zeroPoint[0])
    assert tflite_info_of(fused)["reset_variables"] is False


def test_without_its_fill_ops_the_same_file_keeps_state_and_says_so(fused: bytes, ids: np.ndarray) -> None:
    bare = without_state_resets(fused)
    assert tflite_info_of(bare)["reset_variables"] is True
    plain, fresh = plain_and_fresh(bare, ids)
    np.testing.assert_array_equal(plain[0], fresh[0])  # the first call starts from the file's zero state
    carried = [not np.array_equal(p[0, 0], f[0, 0]) for p, f in zip(plain[1:], fresh[1:])]
    assert sum(carried) > len(carried) / 2, f"the bare fused file's first step moved on {sum(carried)} of {len(carried)} rows"
    plain, fresh = plain_and_fresh(fused, ids)
    np.testing.assert_array_equal(plain, fresh)


def test_zero_state_on_entry_makes_the_bare_file_stateless_again(fused: bytes, ids: np.ndarray) -> None:
    rebuilt = zero_state_on_entry(without_state_resets(fused))
    plain, fresh = plain_and_fresh(rebuilt, ids)
    np.testing.assert_array_equal(plain, fresh)
    np.testing.assert_array_equal(plain, plain_and_fresh(fused, ids)[1])


def tflite_info_of(content: bytes) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".tflite") as handle:
        handle.write(content)
        handle.flush()
        return tflite_info(Path(handle.name))
