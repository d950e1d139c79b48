"""The lean device install: the wheel's extras, resolved, and installs that work outside the checkout.

A Raspberry Pi must never be asked for TensorFlow. The built wheel's Requires-Dist lines are
what pip sees, so they are read from the wheel itself, evaluated with their markers for this
machine and for a Pi, and then resolved by pip end to end (`--dry-run --report`), so that a
dependency of an interpreter that pulled TensorFlow in would be caught too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PROJECT = "edgelstm"
DEVICE_EXTRAS = ("", "litert", "onnx", "tflite-runtime")  # "" is the base install: numpy only
# Build-time stack that a device install must never pull. onnxruntime is fine; onnx is not.
FORBIDDEN = ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-io-gcs-filesystem",
             "tensorboard", "keras", "tf-keras", "tf2onnx", "onnx", "jax", "torch")
PI_ENVIRONMENT = {**default_environment(), "platform_machine": "aarch64", "python_version": "3.11",
                  "python_full_version": "3.11.2", "sys_platform": "linux", "platform_system": "Linux"}
SUBPACKAGES = ("edgelstm", "edgelstm.train", "edgelstm.export", "edgelstm.runtime",
               "edgelstm.runtime.backends", "edgelstm.benchmarks", "edgelstm.web")


def pip(python: str | Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("wheel")
    pip(sys.executable, "wheel", "-q", "--no-deps", str(REPO), "-w", str(dest))
    (built,) = dest.glob(f"{PROJECT}-*.whl")
    return built


def wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    prefix = "Requires-Dist:"
    return [Requirement(line[len(prefix):].strip()) for line in metadata.splitlines() if line.startswith(prefix)]


def direct_requirements(requirements: list[Requirement], extra: str, environment: dict[str, str]) -> dict[str, str]:
    """{name: specifier} that `edgelstm[extra]` asks for in `environment`, self-references expanded."""
    wanted, todo, seen = {}, [extra], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for req in requirements:
            if req.marker and not req.marker.evaluate({**environment, "extra": current}):
                continue
            if canonicalize_name(req.name) == PROJECT:
                todo.extend(req.extras)
                continue
            name = canonicalize_name(req.name)
            wanted[name] = ",".join(filter(None, (wanted.get(name), str(req.specifier))))
    return wanted


def forbidden_in(names) -> list[str]:
    return sorted(canonicalize_name(n) for n in names if canonicalize_name(n) in FORBIDDEN)


@pytest.mark.parametrize("environment", [default_environment(), PI_ENVIRONMENT], ids=["host", "pi-aarch64-py311"])
def test_device_extras_ask_for_no_build_time_package(wheel: Path, environment: dict[str, str]) -> None:
    requirements = wheel_requirements(wheel)
    for extra in DEVICE_EXTRAS:
        names = direct_requirements(requirements, extra, environment)
        assert "numpy" in names, f"[{extra}] does not ask for numpy: {names}"
        assert not forbidden_in(names), f"edgelstm[{extra}] asks for {forbidden_in(names)}"
    # The same reading finds the heavy stack where it belongs, so the check above can fail.
    assert {"tensorflow-cpu", "keras"} <= set(direct_requirements(requirements, "train", default_environment()))
    assert {"tf2onnx", "onnx", "keras"} <= set(direct_requirements(requirements, "export", default_environment()))


def test_each_device_extra_brings_its_interpreter(wheel: Path) -> None:
    requirements = wheel_requirements(wheel)
    base = direct_requirements(requirements, "", PI_ENVIRONMENT)
    assert set(base) == {"numpy"}, f"the base install should be numpy alone, is {base}"
    assert "ai-edge-litert" in direct_requirements(requirements, "litert", PI_ENVIRONMENT)
    assert "onnxruntime" in direct_requirements(requirements, "onnx", PI_ENVIRONMENT)
    tflite = direct_requirements(requirements, "tflite-runtime", PI_ENVIRONMENT)
    assert tflite.get("tflite-runtime") == "==2.14.0", tflite
    # tflite-runtime 2.14 was built against numpy 1: beside numpy 2 every Interpreter fails.
    assert "<2" in tflite["numpy"], f"[tflite-runtime] must cap numpy below 2, asks {tflite['numpy']!r}"


@pytest.mark.slow
@pytest.mark.parametrize("extra", DEVICE_EXTRAS, ids=lambda e: e or "base")
def test_resolved_device_install_pulls_no_build_time_package(wheel: Path, extra: str, tmp_path: Path) -> None:
    """pip's full resolution for this machine: interpreters' own dependencies included."""
    if extra == "tflite-runtime" and sys.version_info >= (3, 12):
        pytest.skip("tflite-runtime 2.14.0, its last release, has wheels for Python <= 3.11 only")
    report = tmp_path / "report.json"
    target = f"{wheel}[{extra}]" if extra else str(wheel)
    pip(sys.executable, "install", "-q", "--dry-run", "--ignore-installed", "--only-binary=:all:",
        "--report", str(report), target)
    installed = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
                 for item in json.loads(report.read_text())["install"]}
    assert PROJECT in installed and "numpy" in installed
    assert not forbidden_in(installed), f"pip install 'edgelstm[{extra}]' would install {forbidden_in(installed)}"
    if extra == "tflite-runtime":
        assert installed["numpy"].startswith("1."), installed


def test_wheel_carries_the_web_page_and_its_npm_lock_file(wheel: Path) -> None:
    """`edgelstm web` from an installed wheel needs the page's files and the pinned lock file, not node_modules."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for name in ("static/index.html", "static/app.js", "static/tokenizer.js", "package.json",
                 "package-lock.json", "drive.mjs"):
        assert f"edgelstm/web/{name}" in names, f"the wheel lacks edgelstm/web/{name}"
    assert not [n for n in names if "node_modules" in n], "the wheel must not carry node_modules"


@pytest.fixture(scope="module")
def lean_venv() -> Path:
    """A venv with numpy alone, kept between runs in .venv-lean: the base device install."""
    root = REPO / ".venv-lean"
    python = root / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import numpy"], capture_output=True) if python.exists() else None
    if probe is None or probe.returncode:
        venv.EnvBuilder(clear=True, with_pip=True).create(root)
        pip(python, "install", "-q", "numpy>=1.23,<2.5")
    return python


IMPORT_PROBE = """
import importlib, json, sys
mods = {name: importlib.import_module(name).__file__ for name in %r}
heavy = sorted(m for m in ("tensorflow", "keras", "tf2onnx", "onnx") if m in sys.modules)
print(json.dumps({"files": mods, "heavy": heavy}))
"""


def probe_imports(python: Path, cwd: Path) -> dict:
    result = subprocess.run([str(python), "-c", IMPORT_PROBE % (SUBPACKAGES,)], capture_output=True, text=True,
                            cwd=cwd, timeout=120, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("editable", [False, True], ids=["install", "editable"])
def test_install_imports_every_package_from_outside_the_checkout(lean_venv: Path, editable: bool,
                                                                 tmp_path: Path) -> None:
    """`pip install .` and `pip install -e .` map cli/, train/, ... to edgelstm.* and keep TensorFlow out."""
    pip(lean_venv, "install", "-q", "--no-deps", "--force-reinstall", *(["-e"] if editable else []), str(REPO))
    found = probe_imports(lean_venv, tmp_path)
    assert found["heavy"] == [], f"importing the packages loaded {found['heavy']}"
    venv_root = Path(lean_venv).parent.parent.resolve()
    for name, file in found["files"].items():
        path = Path(file).resolve()
        if editable:
            assert path.is_relative_to(REPO.resolve()) and not path.is_relative_to(venv_root), f"{name} from {file}"
        else:
            assert path.is_relative_to(venv_root), f"{name} imported from {file}, not from the venv"
    script = Path(lean_venv).parent / "edgelstm"
    help_run = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert help_run.returncode == 0 and "verify" in help_run.stdout, help_run.stderr
