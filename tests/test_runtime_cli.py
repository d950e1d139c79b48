"""`edgelstm verify` and `edgelstm predict`, run in-process through the real entry point."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelstm.main import main
from edgelstm.runtime import Classifier
from edgelstm.runtime.backends import base
from edgelstm.runtime.cli_predict import _chunks, read_records


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def feed_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_verify_passes_on_the_tiny_bundle_with_one_row_per_runnable_pair(capsys, tiny_bundle: Path) -> None:
    code, out, _ = run_cli(capsys, "verify", tiny_bundle, "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"], out
    ran = {(c["variant"], c["backend"]) for c in report["checks"] if c["status"] == "ok"}
    assert ("tflite-fp32", "numpy") in ran and ("onnx-fp32", "numpy") in ran
    for backend in ("litert", "onnxruntime"):
        if base.is_installed(backend):
            assert any(b == backend for _, b in ran), f"{backend} is installed but verify did not run it"
    code, out, _ = run_cli(capsys, "verify", tiny_bundle)
    assert code == 0 and "PASSED" in out and "max|dp|" in out


def test_verify_can_be_narrowed_to_one_backend_and_variant(capsys, tiny_bundle: Path) -> None:
    code, out, _ = run_cli(capsys, "verify", tiny_bundle, "--backend", "numpy", "--variant", "onnx-fp32", "--json")
    report = json.loads(out)
    assert code == 0
    # both ways: all maxlen steps, and the padding skipped from the bundle's padding states
    assert [(c["variant"], c["backend"], c["path"]) for c in report["checks"]] == [
        ("onnx-fp32", "numpy", "padded"), ("onnx-fp32", "numpy", "fast")]


def test_verify_fails_with_exit_1_when_outputs_drift(capsys, bundle_copy: Path) -> None:
    """Golden probabilities moved by 0.05: every float32 bound is broken, so verify must fail."""
    bundle = bundle_copy
    golden = dict(np.load(bundle / "golden.npz"))
    golden["keras_probs"] = np.clip(golden["keras_probs"] + 0.05, 0, 1).astype(np.float32)
    np.savez(bundle / "golden.npz", **golden)
    manifest = json.loads((bundle / "manifest.json").read_text())
    data = (bundle / "golden.npz").read_bytes()
    manifest["files"]["golden.npz"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = run_cli(capsys, "verify", bundle, "--backend", "numpy")
    assert code == 1
    assert "FAIL: max |dp|" in out and "FAILED" in out


def test_verify_refuses_a_tampered_bundle_with_exit_2(capsys, bundle_copy: Path) -> None:
    bundle = bundle_copy
    (bundle / "tokenizer.json").write_text("{}")
    code, _, err = run_cli(capsys, "verify", bundle)
    assert code == 2 and "tokenizer.json" in err


def test_predict_texts_from_arguments(capsys, tiny_bundle: Path) -> None:
    texts = ["first text", "second text here"]
    code, out, _ = run_cli(capsys, "predict", tiny_bundle, *texts, "--backend", "numpy")
    assert code == 0
    lines = out.splitlines()
    with Classifier.load(tiny_bundle, backend="numpy") as classifier:
        expected = classifier.predict(texts)
    assert [line.split("\t")[0] for line in lines] == [p.label for p in expected]
    assert [float(line.split("\t")[1]) for line in lines] == pytest.approx([p.probability for p in expected], abs=1e-4)


def test_predict_stdin_lines_as_json_skipping_blank_lines(capsys, monkeypatch, tiny_bundle: Path) -> None:
    feed_stdin(monkeypatch, b"one text\n\n  \nanother text\r\n")
    code, out, _ = run_cli(capsys, "predict", tiny_bundle, "-", "--json", "--backend", "numpy")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [row["line"] for row in rows] == [1, 4]
    with Classifier.load(tiny_bundle, backend="numpy") as classifier:
        assert rows[1]["score"] == pytest.approx(classifier.predict_proba("another text"), abs=1e-6)


def test_predict_jsonl_file_keeps_ids(capsys, tiny_bundle: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "good"}\n{"text": "bad", "id": 7}\n', encoding="utf-8")
    code, out, _ = run_cli(capsys, "predict", tiny_bundle, "--input", source, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(r["id"], r["line"]) for r in rows] == [("a", 1), (7, 2)]
    assert all(set(r) >= {"label", "label_id", "probability", "score"} for r in rows)


@pytest.mark.parametrize("data, fmt, message", [
    (b"fine\n\xff\xfe\n", "auto", "stdin line 2: not UTF-8"),
    (b'{"text": "a"}\n{"txt": "b"}\n', "auto", 'stdin line 2: no "text" field (keys found: txt)'),
    (b'{"body": "a", "stars": 5}\n', "auto", 'stdin line 1: no "text" field (keys found: body, stars)'),
    (b"plain text\n", "jsonl", "stdin line 1: not JSON"),
])
def test_predict_bad_input_lines_exit_2_naming_the_line(capsys, monkeypatch, tiny_bundle, data, fmt, message) -> None:
    feed_stdin(monkeypatch, data)
    code, _, err = run_cli(capsys, "predict", tiny_bundle, "-", "--format", fmt)
    assert code == 2 and message in err


def test_predict_without_texts_or_with_a_missing_file_says_what_to_give(capsys, tiny_bundle: Path) -> None:
    code, _, err = run_cli(capsys, "predict", tiny_bundle)
    assert code == 2 and "'-' to read stdin" in err
    code, _, err = run_cli(capsys, "predict", tiny_bundle, "--input", "/nonexistent/file.txt")
    assert code == 2 and "/nonexistent/file.txt" in err


class CountingStream(io.RawIOBase):
    """An endless stream of lines that counts how many were read."""

    def __init__(self) -> None:
        self.lines_read = 0

    def readline(self, size: int = -1) -> bytes:
        self.lines_read += 1
        return f"text number {self.lines_read}\n".encode()


def test_predict_reads_input_lazily_one_chunk_at_a_time() -> None:
    """Bounded memory: the first chunk is ready after reading about one chunk of lines, not the file."""
    stream = CountingStream()
    first = next(_chunks(read_records(stream, fmt="lines"), 100))
    assert len(first) == 100 and stream.lines_read <= 101
    assert [r.line for r in first] == list(range(1, 101))


def test_options_may_sit_between_the_bundle_and_the_texts(capsys, tiny_bundle: Path) -> None:
    code, out, _ = run_cli(capsys, "predict", tiny_bundle, "--json", "great film", "--backend", "numpy", "dull film")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 2
    code, out, _ = run_cli(capsys, "verify", "--variants", "onnx-fp32", tiny_bundle, "--backends", "numpy", "--json")
    assert code == 0 and {c["variant"] for c in json.loads(out)["checks"]} == {"onnx-fp32"}


def test_predict_reports_known_tokens_and_warns_when_none_is_known(capsys, tiny_bundle: Path) -> None:
    code, out, err = run_cli(capsys, "predict", tiny_bundle, "--json", "--backend", "numpy",
                             "the film was good", "", "zxqv wbbl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert rows[0]["tokens"] == 4 and 0 < rows[0]["known_tokens"] <= 4
    assert (rows[1]["tokens"], rows[1]["known_tokens"]) == (0, 0)
    assert (rows[2]["tokens"], rows[2]["known_tokens"]) == (2, 0)
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 2 and "none of its 2 words is in the model's vocabulary" in warnings[1]


def test_predict_text_field_names_the_jsonl_key(capsys, monkeypatch, tiny_bundle: Path) -> None:
    feed_stdin(monkeypatch, b'{"body": "a good film", "id": 7}\n')
    code, out, _ = run_cli(capsys, "predict", tiny_bundle, "-", "--text-field", "body", "--json")
    assert code == 0 and json.loads(out)["id"] == 7


def test_a_bad_line_stops_after_the_results_before_it_or_is_skipped(capsys, monkeypatch, tiny_bundle: Path) -> None:
    data = b'{"text": "good"}\n{"text": "bad"}\n{"text": oops}\n{"text": "fine"}\n'
    feed_stdin(monkeypatch, data)
    code, out, err = run_cli(capsys, "predict", tiny_bundle, "-", "--batch-size", "10")
    assert code == 2 and len(out.splitlines()) == 2 and "stdin line 3: not JSON" in err and "--skip-bad-lines" in err
    feed_stdin(monkeypatch, data)
    code, out, err = run_cli(capsys, "predict", tiny_bundle, "-", "--skip-bad-lines", "--json")
    assert code == 0 and [json.loads(line)["line"] for line in out.splitlines()] == [1, 2, 4]
    assert "skipped 1 bad line(s) of stdin (first: line 3: not JSON" in err


def test_threads_zero_means_the_default_and_negative_is_refused(capsys, tiny_bundle: Path) -> None:
    code, out, _ = run_cli(capsys, "predict", tiny_bundle, "good", "--threads", "0", "--backend", "numpy")
    assert code == 0 and out
    code, _, err = run_cli(capsys, "verify", tiny_bundle, "--threads", "0", "--backend", "numpy")
    assert code == 0
    with pytest.raises(SystemExit):
        main(["predict", str(tiny_bundle), "good", "--threads", "-1"])
    assert "0 (the runtime's default) or more" in capsys.readouterr().err


def test_predict_on_a_run_directory_says_to_export_it(capsys, tmp_path: Path) -> None:
    run = tmp_path / "run"  # what `edgelstm train` leaves (the runtime tests run without TensorFlow)
    run.mkdir()
    for name in ("model.keras", "config.json", "tokenizer.json"):
        (run / name).write_text("{}")
    code, _, err = run_cli(capsys, "predict", run, "good")
    assert code == 2 and "is a run directory" in err and f"edgelstm export {run} --out BUNDLE" in err


def test_predict_takes_one_variant_under_either_spelling(capsys, tiny_bundle: Path) -> None:
    code, _, _ = run_cli(capsys, "predict", tiny_bundle, "good", "--variants", "onnx-fp32", "--backends", "numpy")
    assert code == 0
    with pytest.raises(SystemExit):
        main(["predict", str(tiny_bundle), "good", "--variants", "onnx-fp32,tflite-fp32"])
    assert "takes one name here" in capsys.readouterr().err


def test_predict_and_verify_print_no_xnnpack_notice(tiny_bundle: Path) -> None:
    """The interpreter's C++ 'Created TensorFlow Lite XNNPACK delegate' line is filtered out."""
    import subprocess

    if not base.is_installed("litert"):
        pytest.skip("ai-edge-litert is not installed")
    for argv in (["predict", str(tiny_bundle), "good", "--backend", "litert", "--variant", "tflite-fp32"],
                 ["verify", str(tiny_bundle), "--backend", "litert", "--variant", "tflite-fp32"]):
        done = subprocess.run([sys.executable, "-m", "edgelstm", *argv], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "XNNPACK" not in done.stderr and "XNNPACK" not in done.stdout
