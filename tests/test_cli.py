"""The command line: fast light verbs, one-line errors, and every verb registered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgelstm.main import COMMANDS

HEAVY_MODULES = ("tensorflow", "keras", "tf2onnx", "onnx")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgelstm", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_every_verb_without_importing_tensorflow() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from edgelstm.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
        "print(out.getvalue())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded, _, help_text = result.stdout.partition("\n")
    assert loaded == "[]", f"--help imported heavy modules: {loaded}"
    for verb in COMMANDS:
        assert verb in help_text


def test_env_reports_versions_as_json() -> None:
    result = run_cli("env", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["python"] == sys.version.split()[0]
    assert info["libraries"]["numpy"]
    assert info["cores"] >= 1


def test_no_verb_prints_help_and_fails() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "COMMAND" in result.stdout


def test_unknown_verb_is_rejected_with_the_choices() -> None:
    result = run_cli("fly")
    assert result.returncode == 2
    assert "unknown command 'fly'" in result.stderr and "train" in result.stderr
    result = run_cli("predcit", "bundle", "text")
    assert result.returncode == 2 and "did you mean 'predict'?" in result.stderr


@pytest.mark.parametrize("verb, extra", [("train", "train"), ("export", "export")])
def test_a_runtime_only_install_names_the_extra_to_install(tmp_path: Path, verb: str, extra: str) -> None:
    """Without TensorFlow (as on a device), train and export say which pip extra they need."""
    argv = ["train", "--data", "synthetic", "--out", str(tmp_path / "run")] if verb == "train" else \
        ["export", str(tmp_path), "--out", str(tmp_path / "bundle")]
    if verb == "export":  # a run directory's files, so export gets as far as TensorFlow
        for name in ("model.keras", "tokenizer.json", "config.json", "metrics.json", "validation.npz", "calibration.npz"):
            (tmp_path / name).write_text("{}")
    code = ("import sys\n"
            "for name in ('tensorflow', 'keras', 'tf2onnx', 'onnx', 'tf_keras'): sys.modules[name] = None\n"
            "from edgelstm.main import main\n"
            f"sys.exit(main({argv!r}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"pip install 'edgelstm[{extra}]'" in result.stderr and "internal error" not in result.stderr
