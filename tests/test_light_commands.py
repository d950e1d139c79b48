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


# What one process's `edgelstm predict BUNDLE TEXT` never needs: the process pool of --workers N,
# logging (imported only on a fallback that logs), the run-directory module, thread pools.
NOT_FOR_ONE_PREDICTION = ("multiprocessing", "logging", "concurrent.futures", "edgelstm.runtime.pool",
                          "edgelstm.core.rundir", "difflib")
# Per backend, the modules of the others: naming a backend keeps theirs unimported.
OTHER_BACKENDS = {
    "onnxruntime": ("ai_edge_litert", "tflite_runtime", "edgelstm.runtime.backends._tflite",
                    "edgelstm.runtime.backends.numpy_lstm"),
    "litert": ("onnxruntime", "edgelstm.runtime.backends.onnxruntime", "edgelstm.runtime.backends.numpy_lstm"),
    "numpy": ("onnxruntime", "ai_edge_litert", "edgelstm.runtime.backends.onnxruntime",
              "edgelstm.runtime.backends._tflite"),
}

PREDICT_PROGRAM = """
import contextlib, io, json, sys
from edgelstm.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main({argv!r})
print(json.dumps({{"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}}))
"""


@pytest.mark.parametrize("backend", tuple(OTHER_BACKENDS))
def test_predict_of_one_text_imports_only_what_one_prediction_needs(tiny_bundle, backend: str) -> None:
    """Start-up of `edgelstm predict` is what a user waits for (benchmarks/cold_start.py times it): what
    is imported but unused costs every run. A module listed here imported again at the top of a file fails."""
    from edgelstm.runtime.backends import base

    if not base.is_installed(backend):
        pytest.skip(f"{backend} is not installed here")
    argv = ["predict", str(tiny_bundle), "a quietly wonderful film", "--backend", backend]
    done = subprocess.run([sys.executable, "-c", PREDICT_PROGRAM.format(argv=argv)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0 and result["out"].count("\n") == 1, result["out"]
    unneeded = NOT_FOR_ONE_PREDICTION + OTHER_BACKENDS[backend]
    loaded = [m for m in result["modules"] if any(m == name or m.startswith(name + ".") for name in unneeded)]
    assert loaded == [], f"`edgelstm predict --backend {backend}` imported {loaded}"
