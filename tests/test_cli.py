"""The command line: fast light verbs, one-line errors, and every verb registered."""

from __future__ import annotations

import json
import subprocess
import sys

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
    assert "invalid choice" in result.stderr and "train" in result.stderr
