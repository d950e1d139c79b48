"""benchmarks/cold_start.py smoke-run: real processes of `edgelstm predict`, results written, no time asserted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from edgelstm.benchmarks import cold_start


def test_cold_start_times_real_predict_processes_and_writes_results(tiny_bundle: Path, tmp_path: Path) -> None:
    entry = Path(sys.executable).with_name("edgelstm")
    if not entry.is_file():
        pytest.skip(f"no edgelstm console script beside {sys.executable}")
    out = tmp_path / "cold"
    assert cold_start.main([str(tiny_bundle), "--out", str(out), "--backends", "numpy", "--runs", "2",
                            "--edgelstm", str(entry)]) == 0
    record = json.loads((out / "cold_start.json").read_text())
    row = record["summary"]["numpy"]
    assert row["runs"] == 2 and 0 < row["cpu_s"]["min"] <= row["cpu_s"]["max"]
    assert all(run["output"].split("\t")[0] in ("neg", "pos") for run in record["runs_by_backend"]["numpy"])
    assert "| numpy |" in (out / "cold_start.md").read_text()


def test_cold_start_refuses_a_failing_command(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="exited"):
        cold_start.run_once([sys.executable, "-c", "import sys; sys.exit(3)"])
