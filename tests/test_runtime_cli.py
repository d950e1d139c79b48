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
    (b"fine\n\xff\xfe\n", "auto", "stdin line 2 is not UTF-8"),
    (b'{"text": "a"}\n{"txt": "b"}\n', "auto", 'stdin line 2: expected a JSON object with a string field "text"'),
    (b"plain text\n", "jsonl", "stdin line 1 is not JSON"),
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
