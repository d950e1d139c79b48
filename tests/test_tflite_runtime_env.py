"""tflite-runtime as a real backend, in the numpy<2 environment it needs (.venv-tflite, kept between runs).

tflite-runtime 2.14.0, its last release, is built against numpy 1 and has wheels for Python <= 3.11,
while the main environment has numpy 2. So the suite makes a second venv with
`pip install -e '.[tflite-runtime]'` (editable: it always runs these sources) and drives it by
subprocess: `edgelstm verify --backend tflite-runtime` on the session's tiny bundle, the pairs the
runtime refuses run anyway to confirm the refusal, and the runtime's own tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv-tflite"
TEST_REQUIREMENT = "pytest>=9.0,<9.3"
# Tests that need only the runtime (the same list as scripts/pi/pi_test.py runs on the Pi).
RUNTIME_TESTS = ("test_runtime_*.py", "test_tokenizer.py")
PROBE = REPO / "scripts" / "pi" / "probe.py"

pytestmark = [
    pytest.mark.tflite_runtime,
    pytest.mark.slow,
    pytest.mark.skipif(sys.version_info >= (3, 12), reason="tflite-runtime 2.14.0, its last release, "
                       "has wheels for Python <= 3.11 only; use ai-edge-litert (edgelstm[litert])"),
]


def run(argv: list[str], *, timeout: float = 900, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(kwargs.pop("env", {}))
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


@pytest.fixture(scope="module")
def tflite_python() -> Path:
    """The venv's python; made again only when pyproject.toml (its requirements) changes."""
    python = VENV / "bin" / "python"
    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + TEST_REQUIREMENT.encode()
                         + sys.version.encode()).hexdigest()
    stamp = VENV / ".edgelstm-stamp"
    if not (python.exists() and stamp.exists() and stamp.read_text() == key):
        venv.EnvBuilder(clear=True, with_pip=True).create(VENV)
        done = run([python, "-m", "pip", "install", "-q", "-e", f"{REPO}[tflite-runtime]", TEST_REQUIREMENT])
        assert done.returncode == 0, f"installing .venv-tflite failed:\n{done.stderr[-3000:]}"
        stamp.write_text(key)
    return python


def test_environment_has_numpy1_and_tflite_runtime_and_no_tensorflow(tflite_python: Path) -> None:
    code = ("import importlib.util as u, json, numpy, tflite_runtime\n"
            "others = ('tensorflow', 'keras', 'ai_edge_litert', 'onnxruntime')\n"
            "print(json.dumps({'numpy': numpy.__version__, 'tflite': tflite_runtime.__version__,\n"
            "  'absent': [m for m in others if u.find_spec(m) is None]}))")
    done = run([tflite_python, "-c", code])
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["numpy"].startswith("1."), f"tflite-runtime needs numpy<2, the venv has {found['numpy']}"
    assert found["tflite"] == "2.14.0"
    assert found["absent"] == ["tensorflow", "keras", "ai_edge_litert", "onnxruntime"], found


def test_verify_runs_the_tflite_variants_on_tflite_runtime(tflite_python: Path, tiny_bundle: Path) -> None:
    # The console script, as a user runs it: the checkout's folders are not on its sys.path.
    done = run([tflite_python.parent / "edgelstm", "verify", tiny_bundle, "--backend", "tflite-runtime", "--json"])
    assert done.returncode == 0, f"verify exit {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    report = json.loads(done.stdout)
    manifest = json.loads((Path(tiny_bundle) / "manifest.json").read_text())
    tflite = [name for name, entry in manifest["variants"].items()
              if entry["format"] == "tflite" and entry["status"] == "passed"]
    checks = [c for c in report["checks"] if c["backend"] == "tflite-runtime"]
    assert sorted({c["variant"] for c in checks}) == sorted(tflite), f"verify checked {checks}, the bundle has {tflite}"
    assert any(c["variant"] == "tflite-fp32" and c["status"] == "ok" for c in checks), checks
    for check in checks:
        name = check["variant"]
        assert check["status"] in ("ok", "skipped"), f"{name} on tflite-runtime: {check}"
        if check["status"] == "ok":
            parity = check["parity"]
            assert parity["non_finite"] == 0 and parity["passed"], parity
        else:
            # A refusal by the runtime's rules must be true: the interpreter, run anyway, fails.
            probe = run([tflite_python, PROBE, tiny_bundle, "tflite-runtime", name])
            found = json.loads(probe.stdout.strip().splitlines()[-1]) if probe.returncode == 0 else {"ran": False}
            assert not (found.get("ran") and found.get("passed")), \
                f"the runtime refuses {name} on tflite-runtime ({check['note']}) but it runs within bounds"


def test_runtime_unit_tests_pass_with_tflite_runtime(tflite_python: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    files = sorted({f"tests/{p.name}" for pattern in RUNTIME_TESTS for p in (REPO / "tests").glob(pattern)})
    if not files:
        pytest.fail(f"no runtime test files in tests/ match {RUNTIME_TESTS}")
    junit = tmp_path / "junit.xml"
    done = run([tflite_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *files],
               cwd=REPO, env={"EDGELSTM_TEST_BUNDLE": str(tiny_bundle)}, timeout=1800)
    assert done.returncode == 0, f"runtime tests failed in .venv-tflite:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    cases = list(ElementTree.parse(junit).getroot().iter("testcase"))
    ran = [c for c in cases if c.find("skipped") is None]
    assert ran, "every runtime test skipped in .venv-tflite"
    names = [c.get("name", "") for c in ran]
    on_tflite = [n for n in names if "tflite-runtime" in n or "tflite_runtime" in n]
    assert on_tflite, "no runtime test ran on the tflite-runtime backend: " + ", ".join(names[:20])
