"""`edgelstm predict --engine ray`: Ray Data actors give one process's output, on loopback, no token files.

Needs the `ray` extra (`make test-ray` installs it); skips where Ray is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray


def predict(*argv: object, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home)}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", "edgelstm", "predict", *map(str, argv)], capture_output=True,
                          text=True, env=env, timeout=600)


def test_ray_scores_a_file_like_one_process_and_leaves_no_token_file(tiny_bundle: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'edgelstm[ray]' (make test-ray)")
    source = tmp_path / "in.jsonl"
    rows = [json.dumps({"id": f"r{i}", "text": "a good film " * (i % 11) + "but a dull plot"}) for i in range(600)]
    rows.insert(300, "   ")  # a blank line: skipped, and later lines keep their numbers
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    ray = predict(tiny_bundle, "--input", source, "--json", "--engine", "ray", "--workers", 2, home=home)
    one = predict(tiny_bundle, "--input", source, "--json", home=home)
    assert ray.returncode == 0, ray.stderr[-3000:]
    assert one.returncode == 0 and ray.stdout == one.stdout
    lines = [json.loads(line)["line"] for line in ray.stdout.splitlines()]
    assert len(lines) == 600 and 301 not in lines and lines[-1] == 601
    assert not (home / ".ray").exists()  # no ~/.ray/auth_token: the job's token lived in its environment
    assert not [path for path in home.rglob("*") if "ray" in path.name.lower()]


def test_ray_names_the_line_of_a_bad_json_row(tiny_bundle: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'edgelstm[ray]' (make test-ray)")
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "fine"}\n{"txt": "no text field"}\n', encoding="utf-8")
    done = predict(tiny_bundle, "--input", source, "--engine", "ray", home=tmp_path)
    assert done.returncode == 2
    # The wording of one process's refusal (runtime/cli_predict.py), with the line Ray's parent counted.
    assert f'{source} line 2: no "text" field (keys found: txt)' in done.stderr
