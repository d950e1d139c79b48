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
    # One process's refusal word for word (runtime/cli_predict.py), with the line Ray's reader counted.
    one = predict(tiny_bundle, "--input", source, home=tmp_path)
    refusal = f'edgelstm: error: {source} line 2: no "text" field (keys found: txt)'
    assert one.returncode == 2 and refusal in one.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("edgelstm:")] == \
        [line for line in one.stderr.splitlines() if line.startswith("edgelstm:")]
    assert done.stdout == one.stdout != ""  # the line before it was classified


def test_ray_skips_bad_lines_like_one_process_after_a_bom_with_bad_bytes_and_surrogates(tiny_bundle: Path,
                                                                                        tmp_path: Path) -> None:
    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'edgelstm[ray]' (make test-ray)")
    source = tmp_path / "in.jsonl"
    rows = [json.dumps({"id": i, "text": "a good film " * (i % 5) + "dull"}).encode() for i in range(40)]
    rows[7] = b'{"text": "caf\xe9 bytes that are not UTF-8"}'
    rows[20] = b'{"text": "a lone \\ud800 surrogate"}'
    source.write_bytes(b"\xef\xbb\xbf" + b"\n".join(rows) + b"\n")  # an editor's BOM before the first line
    ray = predict(tiny_bundle, "--input", source, "--json", "--engine", "ray", "--skip-bad-lines", home=tmp_path)
    one = predict(tiny_bundle, "--input", source, "--json", "--skip-bad-lines", home=tmp_path)
    assert ray.returncode == one.returncode == 0, ray.stderr[-3000:]
    assert ray.stdout == one.stdout and len(ray.stdout.splitlines()) == 38
    summary = f"edgelstm: warning: skipped 2 bad line(s) of {source} (first: line 8: not UTF-8"
    assert summary in ray.stderr and summary in one.stderr


def test_ray_reads_a_csv_file_like_one_process(tiny_bundle: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'edgelstm[ray]' (make test-ray)")
    source = tmp_path / "in.csv"
    lines = ["id,text"] + [f'r{i},"a good film, {"but " * (i % 4)}a dull plot"' for i in range(300)]
    lines[10] = 'r9,"two lines,\nwith ""quotes"""'
    source.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    ray = predict(tiny_bundle, "--input", source, "--json", "--engine", "ray", "--workers", 2, home=tmp_path)
    one = predict(tiny_bundle, "--input", source, "--json", home=tmp_path)
    assert ray.returncode == one.returncode == 0, ray.stderr[-3000:]
    assert ray.stdout == one.stdout and len(ray.stdout.splitlines()) == 300


@pytest.mark.parquet
def test_ray_reads_a_parquet_file_by_rows_like_one_process(tiny_bundle: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'edgelstm[ray]' (make test-ray)")
    import pyarrow
    import pyarrow.parquet

    source = tmp_path / "in.parquet"
    texts = ["a good film " * (i % 6) + "dull" for i in range(100)]
    texts[50] = None
    pyarrow.parquet.write_table(pyarrow.table({"id": list(range(100)), "text": texts}), source)
    ray = predict(tiny_bundle, "--input", source, "--json", "--engine", "ray", "--skip-bad-lines", home=tmp_path)
    one = predict(tiny_bundle, "--input", source, "--json", "--skip-bad-lines", home=tmp_path)
    assert ray.returncode == one.returncode == 0, ray.stderr[-3000:]
    assert ray.stdout == one.stdout and json.loads(ray.stdout.splitlines()[50])["row"] == 52
    assert f'skipped 1 bad row(s) of {source} (first: row 51: column "text" is null' in ray.stderr


def test_a_bad_backend_on_ray_is_refused_in_one_process_words_before_ray_starts(tiny_bundle: Path,
                                                                             tmp_path: Path) -> None:
    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'edgelstm[ray]' (make test-ray)")
    source = tmp_path / "in.txt"
    source.write_text("a good film\n", encoding="utf-8")
    done = predict(tiny_bundle, "--input", source, "--engine", "ray", "--backend", "nosuch", home=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "edgelstm: error: unknown backend 'nosuch': accepted are auto, litert, tflite-runtime, onnxruntime, numpy"]
