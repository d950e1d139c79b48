"""A .tflite used as an app uses it: the platform's interpreter (ai-edge-litert directly, not
edgelstm.runtime), the inputs the file declares, invoked once per text, never reset."""

from __future__ import annotations

from typing import Any

import numpy as np


def tflite_variants(bundle: Any) -> list[str]:
    """The names of a bundle's (edgelstm.runtime.bundle.Bundle) .tflite variants, in the manifest's order."""
    return [name for name, entry in bundle.manifest.to_dict()["variants"].items() if entry["format"] == "tflite"]


def fresh(content: bytes) -> Any:
    """A new interpreter on the file, tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    return interpreter


def plain_inputs(interpreter: Any, ids: np.ndarray) -> dict[int, np.ndarray]:
    """What an app feeds for one row of ids, reading only the file's own input details."""
    feeds = {}
    details = interpreter.get_input_details()
    dynamic = [d for d in details if d["dtype"] != np.float32 and int(d["shape_signature"][-1]) == -1]
    for detail in dynamic:  # a dynamic-length ids input: an app sizes it to maxlen once
        if int(detail["shape"][-1]) != ids.shape[-1]:
            interpreter.resize_tensor_input(detail["index"], [1, ids.shape[-1]])
            interpreter.allocate_tensors()
            details = interpreter.get_input_details()
    for detail in details:
        shape = [int(d) for d in detail["shape"]]
        if detail["dtype"] == np.float32:  # a fast-path state input: the plain use starts from zeros
            feeds[detail["index"]] = np.zeros(shape, np.float32)
        elif shape[-1] == ids.shape[-1]:
            feeds[detail["index"]] = ids[None].astype(detail["dtype"])
        else:  # MediaPipe's layout (the mobile files): the ids first, then padding
            real = ids[ids != 0]
            row = np.zeros(shape, detail["dtype"])
            row[0, :len(real)] = real
            feeds[detail["index"]] = row
    return feeds


def invoke(interpreter: Any, ids: np.ndarray) -> float:
    """One row through the file: P(label 1), the last score."""
    for index, value in plain_inputs(interpreter, ids).items():
        interpreter.set_tensor(index, value)
    interpreter.invoke()
    (output,) = interpreter.get_output_details()
    return float(interpreter.get_tensor(output["index"]).reshape(-1)[-1])


def sequential_and_fresh(content: bytes, ids: np.ndarray, fresh_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Every row on one interpreter, never reset; and the first `fresh_rows` on a fresh one each."""
    one = fresh(content)
    sequential = np.array([invoke(one, row) for row in ids], np.float32)
    separate = np.array([invoke(fresh(content), row) for row in ids[:fresh_rows]], np.float32)
    return sequential, separate
