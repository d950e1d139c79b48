"""The benchmark harness's pure parts: statistics, protocol, data reader, settings, progress."""

from __future__ import annotations

import gzip
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from edgelstm.benchmarks.compare import run_names
from edgelstm.benchmarks.data import read_labelled
from edgelstm.benchmarks.inputs import sample_indices, texts_of_ids
from edgelstm.benchmarks.machine import machine_info
from edgelstm.benchmarks.progress import Progress
from edgelstm.benchmarks.protocol import dumps, jsonable, parse_progress, progress_line
from edgelstm.benchmarks.settings import BenchSettings
from edgelstm.benchmarks.stats import interleaved_calls, percentile, summarize, timed_calls
from edgelstm.core.errors import ConfigError, DataError

LABELS = ["neg", "pos"]


@pytest.mark.parametrize("q", [0, 1, 50, 90, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    values = sorted(np.random.default_rng(0).random(37).tolist())
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_summary_is_in_milliseconds_and_keeps_call_order() -> None:
    samples = [0.003, 0.001, 0.002]
    summary = summarize(samples, stopped_by="runs")
    assert summary["runs"] == 3 and summary["stopped_by"] == "runs"
    assert summary["min_ms"] == pytest.approx(1.0) and summary["max_ms"] == pytest.approx(3.0)
    assert summary["p50_ms"] == pytest.approx(2.0) and summary["mean_ms"] == pytest.approx(2.0)
    assert summary["samples_ms"] == [3.0, 1.0, 2.0]


def test_timed_calls_warm_up_then_stop_at_runs() -> None:
    calls: list[int] = []
    samples, stopped_by = timed_calls(calls.append, warmup=3, runs=5, seconds=60)
    assert len(samples) == 5 and stopped_by == "runs"
    assert calls == list(range(8))  # indices continue after the warm-up


def test_timed_calls_stop_at_the_time_budget_after_one_call() -> None:
    samples, stopped_by = timed_calls(lambda i: None, warmup=0, runs=10_000, seconds=1e-12)
    assert len(samples) == 1 and stopped_by == "seconds"


def test_results_are_strict_json() -> None:
    value = {"nan": math.nan, "inf": np.float32("inf"), "n": np.int64(3), "x": [np.float64(0.5)]}
    assert jsonable(value) == {"nan": None, "inf": None, "n": 3, "x": [0.5]}
    assert json.loads(dumps(value)) == {"nan": None, "inf": None, "n": 3, "x": [0.5]}


def test_progress_lines_round_trip_and_other_lines_are_log() -> None:
    assert parse_progress(progress_line("latency", 3, 10)) == ("latency", 3, 10)
    assert parse_progress("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") is None


def test_progress_in_a_log_prints_a_line_per_row_start_and_end() -> None:
    stream = io.StringIO()
    progress = Progress(2, stream=stream)
    progress.start_row(0, "onnx-fp32 on onnxruntime")
    progress.update("latency", 5, 10)  # not a terminal: no redraws
    progress.end_row("p50 1.9 ms")
    assert stream.getvalue().splitlines() == ["[1/2] onnx-fp32 on onnxruntime ...",
                                              "[1/2] onnx-fp32 on onnxruntime: p50 1.9 ms"]


def test_labelled_csv_with_label_names(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text('text,label\n"good, really",pos\nbad,neg\nfine,pos\n', encoding="utf-8")
    expected = (["good, really", "bad", "fine"], [1, 0, 1])
    data = read_labelled(path, LABELS, vocab_size=100, maxlen=10)  # the training stage's reader
    assert (data.texts, data.labels) == expected
    assert data.sha256 and len(data.sha256) == 64


def test_labelled_gzipped_jsonl_with_integer_labels(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"text": "good", "label": 1}\n\n{"text": "bad", "label": 0}\n')
    data = read_labelled(path, LABELS, vocab_size=100, maxlen=10)
    assert (data.texts, data.labels) == (["good", "bad"], [1, 0])


@pytest.mark.parametrize("name, content", [
    ("data.csv", "text,label\ngood,maybe\n"),
    ("data.csv", "review_text,label\ngood,1\n"),
    ("data.txt", "good\n"),
    ("data.jsonl", "{not json}\n"),
    ("data.csv", "text,label\n"),
])
def test_unusable_data_is_refused(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError):  # the training stage's reader, in its own words
        read_labelled(path, LABELS, vocab_size=100, maxlen=10)


def test_samples_are_fixed_sorted_and_sized() -> None:
    first, again = sample_indices(1000, 10), sample_indices(1000, 10)
    assert first.tolist() == again.tolist() == sorted(set(first.tolist())) and len(first) == 10
    assert sample_indices(5, 10).tolist() == list(range(5)) and len(sample_indices(7, 0)) == 7


@pytest.mark.parametrize("field, value", [("runs", 0), ("seconds", 0.0), ("batch_size", 0), ("threads", -1), ("warmup", -1)])
def test_settings_refuse_values_out_of_range(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        BenchSettings(**{field: value})


def test_settings_zero_threads_means_interpreter_default() -> None:
    assert BenchSettings(threads=0).interpreter_threads is None and BenchSettings(threads=2).interpreter_threads == 2


def test_machine_info_names_the_hardware() -> None:
    info = machine_info()
    assert info["cores"] >= 1 and info["machine"] and info["python"] and isinstance(info["cpu_flags"], list)


def test_compare_names_runs_after_their_folder_when_files_share_a_name(tmp_path: Path) -> None:
    paths = [tmp_path / "laptop" / "results.json", tmp_path / "pi4" / "results.json", tmp_path / "b.json"]
    assert run_names(paths) == ["laptop", "pi4", "b"]
    assert run_names([tmp_path / "x" / "results.json"] * 2) == ["x#1", "x#2"]


def test_interleaved_calls_alternate_rounds_and_count_each_way_on() -> None:
    order: list[tuple[str, int]] = []
    calls = {"a": lambda i: order.append(("a", i)), "b": lambda i: order.append(("b", i))}
    timed = interleaved_calls(calls, warmup=1, runs=7, seconds=60, rounds=3)
    assert [len(timed[name]["wall"]) for name in calls] == [7, 7] and timed["a"]["stopped_by"] == "runs"
    assert len(timed["a"]["cpu"]) == 7 and all(cpu >= 0 for cpu in timed["a"]["cpu"])
    timed_order = order[2:]  # after one warm-up call of each way
    assert [name for name, _ in timed_order] == ["a"] * 3 + ["b"] * 3 + ["a"] * 2 + ["b"] * 2 + ["a"] * 2 + ["b"] * 2
    assert [i for name, i in timed_order if name == "a"] == list(range(1, 8))  # one counter across rounds


@pytest.mark.parametrize("kind", ["vocab", "keras-imdb"])
def test_texts_of_ids_encode_back_to_the_same_ids(kind: str) -> None:
    from edgelstm.runtime.tokenizer import Tokenizer

    corpus = ["a wonderful film, it's moving", "dull and tedious <br /> film", "電影很好看"]
    if kind == "vocab":
        tokenizer = Tokenizer.fit(corpus, vocab_size=8, maxlen=6)  # small: some words are out of vocabulary
    else:
        tokenizer = Tokenizer.from_keras_word_index({"film": 1, "a": 2, "dull": 3, "it's": 4, "moving": 9},
                                                    num_words=8, maxlen=6)
    ids = tokenizer.encode(corpus + ["", "unknown words only"])
    np.testing.assert_array_equal(tokenizer.encode(texts_of_ids(tokenizer, ids)), ids)


def test_a_padded_row_slower_on_real_texts_than_full_length_is_flagged_with_the_load() -> None:
    from edgelstm.benchmarks.consistency import warnings_for

    def row(variant, real, full, fast):
        return {"variant": variant, "backend": "litert", "status": "ok", "fast_path": fast,
                "latency": {"real": {"p50_ms": real}, "full": {"p50_ms": full}},
                "load_average": {"before": [1.0, 1.0, 1.0], "after": [7.5, 3.0, 2.0]}}

    rows = [row("tflite-int8", 2.0, 1.0, False), row("tflite-fp32", 0.5, 1.0, True),
            row("tflite-fp16", 1.1, 1.0, False), row("onnx-fp32", 3.0, 1.0, True)]
    found = warnings_for(rows, cores=2)
    assert len(found) == 1 and found[0].startswith("tflite-int8 / litert: p50 over real texts 2 ms")
    assert "load average 7.5 on 2 cores" in found[0]
