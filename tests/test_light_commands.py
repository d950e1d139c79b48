"""`edgelstm --help` and `edgelstm env` start light: no numpy, no interpreter, no TensorFlow.

Each runs in a fresh interpreter, which then lists what it loaded: a verb module
that imports numpy at import time (directly or through `edgelstm.runtime`) fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "tensorflow", "keras", "onnxruntime", "ai_edge_litert", "tflite_runtime", "onnx", "tf2onnx")

PROGRAM = """
import contextlib, io, json, sys
from edgelstm.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main({argv!r})
    except SystemExit:
        pass
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


@pytest.mark.parametrize("argv", [["--help"], ["env"], ["env", "--json"], ["export", "--help"],
                                  ["verify", "--help"], ["predict", "--help"], ["bench", "--help"]],
                         ids=" ".join)
def test_light_commands_load_no_numpy(argv: list[str]) -> None:
    code = PROGRAM.format(argv=argv, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"`edgelstm {' '.join(argv)}` loaded {loaded}"


def test_an_error_class_imports_without_the_runtime() -> None:
    code = ("import sys\nfrom edgelstm.runtime import BundleError\n"
            "print(sorted(m for m in ('numpy', 'edgelstm.runtime.classifier') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
