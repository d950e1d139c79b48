"""`edgelstm predict --workers N`: a process pool with the output of one process, in input order."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
from pathlib import Path

import pytest

from edgelstm.main import main
from edgelstm.runtime import pool
from edgelstm.runtime.pool import Chunk, PoolSpec, ScoringWorkerError, score_chunks

WORDS = ["good", "bad", "wonderful", "dull", "plot", "acting", "superb", "boring", "the", "film"]


def texts(count: int) -> list[str]:
    """Texts of varied length, so chunks differ in cost and workers finish out of order."""
    return [" ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(1 + (i * 13) % 40)) for i in range(count)]


def run_cli(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_two_workers_write_the_output_of_one_process_in_input_order(capsys, tiny_bundle: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts(700))),
                      encoding="utf-8")
    common = ("predict", tiny_bundle, "--input", source, "--json", "--batch-size", 64)
    code1, one, _ = run_cli(capsys, *common, "--workers", 1)
    code2, two, _ = run_cli(capsys, *common, "--workers", 2)
    assert code1 == code2 == 0
    assert [json.loads(line)["id"] for line in two.splitlines()] == list(range(700))
    assert two == one  # the same bytes: same labels, same scores, same order


def test_a_bad_backend_fails_the_pool_like_one_process(capsys, tiny_bundle: Path) -> None:
    code1, _, err1 = run_cli(capsys, "predict", tiny_bundle, "a text", "--backend", "no-such-backend")
    code2, _, err2 = run_cli(capsys, "predict", tiny_bundle, "a text", "--backend", "no-such-backend", "--workers", 2)
    assert code1 == code2 == 2 and err2 == err1 and "no-such-backend" in err2


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_workers_below_one_is_refused_naming_the_option(capsys, tiny_bundle: Path, workers: str) -> None:
    with pytest.raises(SystemExit) if workers == "two" else _no_exit():
        code, _, err = run_cli(capsys, "predict", tiny_bundle, "a text", "--workers", workers)
        assert code == 2 and "--workers must be an integer >= 1" in err


class _no_exit:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


def test_the_pool_reads_a_bounded_window_ahead_of_what_it_writes(tiny_bundle: Path) -> None:
    pulled = 0

    def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield Chunk(["a good film"] * 8, first_row=8 * pulled - 7)

    results = score_chunks(PoolSpec(str(tiny_bundle)), endless(), 2)
    first, predictions = next(results)
    assert first.first_row == 1 and len(predictions) == 8
    assert pulled <= pool.WINDOW_PER_WORKER * 2 + 1
    results.close()  # stops and joins the workers
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("edgelstm-score")]


def test_a_killed_worker_fails_the_job_naming_the_rows_it_held(tiny_bundle: Path) -> None:
    all_texts = texts(40 * 10)

    def chunks_killing_a_worker():
        for index in range(10):
            if index == 3:  # workers hold chunks 0-2 now: kill the one scoring chunk 0
                victim = next(p for p in multiprocessing.active_children() if p.name == "edgelstm-score-1")
                os.kill(victim.pid, signal.SIGKILL)
            yield Chunk(all_texts[index * 40:(index + 1) * 40], first_row=index * 40 + 1,
                        lines=(index * 40 + 1, index * 40 + 40))

    written = []
    with pytest.raises(ScoringWorkerError) as failure:
        for chunk, _ in score_chunks(PoolSpec(str(tiny_bundle), backend="numpy"), chunks_killing_a_worker(), 2):
            written.append(chunk.first_row)
    message = str(failure.value)
    match = re.search(r"scoring worker 1 \(pid \d+\) was killed by SIGKILL while scoring input lines (\d+)-(\d+) "
                      r"\(rows \1-\2\); output stops before row \1", message)
    assert match, message
    lost = int(match[1])
    assert (lost - 1) % 40 == 0 and int(match[2]) == lost + 39
    assert written == list(range(1, lost, 40))  # everything before the lost chunk, nothing after
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("edgelstm-score")]


def test_the_ray_engine_needs_a_file(capsys, tiny_bundle: Path) -> None:
    code, _, err = run_cli(capsys, "predict", tiny_bundle, "a text", "--engine", "ray")
    assert code == 2 and "--engine ray reads --input FILE" in err


def test_a_csv_file_gives_the_same_predictions_on_one_process_and_the_pool(capsys, tiny_bundle: Path,
                                                                            tmp_path: Path) -> None:
    import csv

    source = tmp_path / "in.csv"
    rows = [{"id": f"r{i}", "text": text} for i, text in enumerate(texts(300))]
    rows[3]["text"] = 'a "good" film, with commas\nand a line break'
    with source.open("w", newline="", encoding="utf-8-sig") as stream:  # with a BOM, as spreadsheets write
        writer = csv.DictWriter(stream, ["id", "text"])
        writer.writeheader()
        writer.writerows(rows)
    one = run_cli(capsys, "predict", tiny_bundle, "--input", source, "--json", "--batch-size", "16")
    two = run_cli(capsys, "predict", tiny_bundle, "--input", source, "--json", "--batch-size", "16", "--workers", "2")
    assert one[0] == two[0] == 0 and one[1] == two[1]
    out = [json.loads(line) for line in one[1].splitlines()]
    # Every row once, in order, named by its id and the line its record starts on (line 1 is the header).
    assert [row["id"] for row in out] == [row["id"] for row in rows]
    assert [row["line"] for row in out[2:6]] == [4, 5, 7, 8]  # row r3 spans lines 5-6


def test_a_bad_csv_row_stops_the_pool_like_one_process_or_is_skipped(capsys, tiny_bundle: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,good film\n2\n3,dull plot\n", encoding="utf-8")
    for workers in ("1", "2"):
        code, out, err = run_cli(capsys, "predict", tiny_bundle, "--input", source, "--workers", workers)
        assert code == 2 and len(out.splitlines()) == 1  # what came before the bad row was written
        assert f"{source} line 3: has 1 field(s), the header has 2" in err and "--skip-bad-lines" in err
        code, out, err = run_cli(capsys, "predict", tiny_bundle, "--input", source, "--workers", workers,
                                 "--skip-bad-lines")
        assert code == 0 and len(out.splitlines()) == 2 and "skipped 1 bad line(s)" in err


@pytest.mark.parquet
def test_a_parquet_file_is_read_by_rows_on_one_process_and_the_pool(capsys, tiny_bundle: Path, tmp_path: Path) -> None:
    pyarrow = pytest.importorskip("pyarrow", reason="Parquet needs pyarrow: pip install 'edgelstm[parquet]' "
                                  "(make test-ray installs it)")
    parquet = pytest.importorskip("pyarrow.parquet")
    source = tmp_path / "in.parquet"
    parquet.write_table(pyarrow.table({"id": list(range(50)), "text": texts(50)}), source)
    one = run_cli(capsys, "predict", tiny_bundle, "--input", source, "--json")
    two = run_cli(capsys, "predict", tiny_bundle, "--input", source, "--json", "--workers", "2", "--batch-size", "8")
    assert one[0] == two[0] == 0 and one[1] == two[1]
    out = [json.loads(line) for line in one[1].splitlines()]
    assert [(row["row"], row["id"]) for row in out] == [(i + 1, i) for i in range(50)]


def test_parquet_from_stdin_is_refused_saying_it_needs_a_file(capsys, tiny_bundle: Path) -> None:
    code, _, err = run_cli(capsys, "predict", tiny_bundle, "-", "--format", "parquet")
    assert code == 2 and "--format parquet reads a file (--input FILE)" in err
