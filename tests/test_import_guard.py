"""The runtime never needs TensorFlow, Keras, tf2onnx, onnx, or the train/export stages.

Run in a fresh interpreter twice: once with those modules blocked (importing one
raises ImportError, so a hidden dependency fails loudly), and once unblocked to
check none was loaded anyway (a `try: import tensorflow` would hide from the
first run). Both import every runtime module and classify with each installed
backend, so the interpreters' own imports are covered too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FORBIDDEN = ("tensorflow", "keras", "tf_keras", "tf2onnx", "onnx", "edgelstm.train", "edgelstm.export")
RUNTIME_MODULES = (
    "edgelstm.runtime", "edgelstm.runtime.classifier", "edgelstm.runtime.selection", "edgelstm.runtime.verify",
    "edgelstm.runtime.cli_verify", "edgelstm.runtime.cli_predict", "edgelstm.runtime.backends.base",
    "edgelstm.runtime.backends.numpy_lstm", "edgelstm.runtime.backends.litert",
    "edgelstm.runtime.backends.tflite_runtime", "edgelstm.runtime.backends.onnxruntime",
)

PROGRAM = """
import importlib, json, sys
FORBIDDEN = {forbidden!r}
if {block!r}:
    for name in FORBIDDEN:
        sys.modules[name] = None  # `import name` now raises ImportError
for module in {modules!r}:
    importlib.import_module(module)
from edgelstm.runtime import Classifier
from edgelstm.runtime.backends.base import installed_backends
from edgelstm.runtime.verify import verify_bundle
used = []
for backend in installed_backends():
    try:
        with Classifier.load({bundle!r}, backend=backend) as classifier:
            classifier.predict(["a short text"])
        used.append(backend)
    except Exception as error:  # a backend that cannot run here (e.g. numpy 2 for tflite-runtime)
        if type(error).__name__ not in ("BackendUnavailableError",):
            raise
verify_bundle({bundle!r})
loaded = sorted(m for m in sys.modules if sys.modules[m] is not None
                and any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
print(json.dumps({{"loaded": loaded, "used": used}}))
"""


@pytest.mark.parametrize("block", [True, False], ids=["blocked", "unblocked"])
def test_runtime_works_without_and_loads_no_build_time_modules(tiny_bundle: Path, block: bool) -> None:
    code = PROGRAM.format(forbidden=FORBIDDEN, block=block, modules=RUNTIME_MODULES, bundle=str(tiny_bundle))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"the runtime failed without build-time modules:\n{done.stderr[-3000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], f"the runtime loaded {result['loaded']}"
    assert "numpy" in result["used"], "the numpy backend should always run"
