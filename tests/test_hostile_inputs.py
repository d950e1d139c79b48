"""Hostile inputs to `predict`: one clean refusal or a right answer, never a traceback.

The command line's --input gets what the issue found ending in internal errors or wrong
answers (a lone surrogate, a folder, a UTF-8 BOM before JSON lines, JSON that breaks the
parser); the Python API gets a seeded, bounded stream of generated inputs on every installed
backend, each either refused with an InputError of one line or answered exactly as the same
texts are answered one by one. The count is printed (`pytest -s`) for the report.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelstm.runtime import Classifier, InputError
from edgelstm.runtime.backends import base

FIXTURE = Path(__file__).parent / "fixtures" / "schema1" / "bundle"
SEED, INPUTS_PER_BACKEND = 14, 1500
PAIRS = [("tflite-fp32", "litert"), ("onnx-fp32", "onnxruntime"), ("tflite-fp32", "numpy"),
         ("tflite-dynint8", "litert"), ("onnx-dynint8", "onnxruntime")]


def _predict(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgelstm", "predict", str(FIXTURE), *args], input=stdin,
                          capture_output=True, timeout=120)


def _refused(result: subprocess.CompletedProcess, needle: str) -> None:
    stderr = result.stderr.decode()
    lines = stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("edgelstm: error:"), stderr
    assert needle in lines[0], stderr


def test_a_folder_as_input_is_refused(tmp_path: Path) -> None:
    _refused(_predict("--input", str(tmp_path)), "is a folder")


def test_a_utf8_bom_before_json_lines_is_read_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "reviews.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"text": "a wonderful film", "id": 7}\n{"text": "dull", "id": 8}\n')
    result = _predict("--input", str(path), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [row["id"] for row in rows] == [7, 8]
    plain = _predict("a wonderful film", "dull", "--json")
    assert [json.loads(line)["score"] for line in plain.stdout.decode().splitlines()] == [row["score"] for row in rows]


@pytest.mark.parametrize("line, needle", [
    ('{"text": "good \\ud800 film"}', "lone surrogate U+D800"),
    ('{"text": "good", "id": ' + "9" * 5000 + "}", "an integer of 5000 digits"),
    ('{"text": "good", "x": ' + "[" * 50_000 + "]" * 50_000 + "}", "nests arrays or objects deeper"),
    ('{"text": "good", "x": NaN}', "NaN, which is not JSON"),
], ids=["surrogate", "huge-int", "deep-nesting", "nan"])
def test_json_lines_that_break_parsers_are_refused_naming_the_line(tmp_path: Path, line: str, needle: str) -> None:
    path = tmp_path / "reviews.jsonl"
    path.write_text('{"text": "fine"}\n' + line + "\n")
    result = _predict("--input", str(path), "--format", "jsonl")
    _refused(result, needle)
    assert "line 2" in result.stderr.decode()


def test_an_argument_that_is_not_utf8_is_refused() -> None:
    result = subprocess.run([sys.executable, "-m", "edgelstm", "predict", str(FIXTURE), os.fsdecode(b"good \xff film")],
                            capture_output=True, timeout=120)
    _refused(result, "lone surrogate U+DCFF")


# --- generated inputs to the Python API ----------------------------------------------------

ALPHABET = ["a", "good", " ", "film", "\n", "\t", "é", "ß", "İ", "ﬁ", "😀", "\u200b", "\u0000", "<br />", "'", "!",
            "\ufeff", "\u202e", "１２", "ꙮ", "\U0001F3F3\uFE0F\u200D\U0001F308", "\ud800", "\udfff", "dull", "bad"]


def _text(rng: random.Random) -> str:
    size = rng.choice([0, 1, 3, 10, 60, 400])
    return "".join(rng.choice(ALPHABET) for _ in range(size))


def _case(rng: random.Random, maxlen: int, vocab: int):  # noqa: ANN202 - one generated input of any type
    kind = rng.randrange(14)
    if kind < 4:
        return "text", _text(rng)
    if kind == 4:
        return "texts", [_text(rng) for _ in range(rng.randrange(0, 6))]
    if kind == 5:
        return "texts", np.array([_text(rng) for _ in range(rng.randrange(1, 4))])
    if kind == 6:
        return "text", np.array(_text(rng))  # 0-d
    if kind == 7:
        return "bytes", _text(rng).encode("utf-8", "surrogatepass") + rng.choice([b"", b"\xff", b"\xc3"])
    if kind == 8:
        return "bad", rng.choice([None, 5, 3.5, {"text": "x"}, object(), [None], ["ok", 5], [b"\xff"],
                                  np.zeros((2, 2)), [["nested"]], float("nan")])
    if kind == 9:
        return "texts", (_text(rng) for _ in range(rng.randrange(0, 4)))  # a generator
    shape = rng.choice([(1, maxlen), (3, maxlen), (0, maxlen), (maxlen,), (2, maxlen + 1), (1, 1), ()])
    dtype = rng.choice([np.int32, np.int64, np.uint8, np.float32, np.bool_, np.int8])
    high = rng.choice([vocab, vocab + 5, 2])
    low = rng.choice([0, -3])
    ids = np.random.default_rng(rng.randrange(1 << 30)).integers(low, high, size=shape).astype(dtype)
    return "ids", ids


def _installed_pairs() -> list[tuple[str, str]]:
    return [pair for pair in PAIRS if base.is_installed(pair[1])]


@pytest.mark.parametrize("variant, backend", _installed_pairs(), ids=lambda value: str(value))
def test_generated_inputs_are_refused_cleanly_or_answered_consistently(variant: str, backend: str) -> None:
    rng = random.Random(f"{SEED}-{variant}-{backend}")
    counts = {"refused": 0, "answered": 0}
    with Classifier.load(FIXTURE, variant=variant, backend=backend) as classifier:
        maxlen, vocab = classifier.tokenizer.maxlen, classifier.tokenizer.vocab_size
        for number in range(INPUTS_PER_BACKEND):
            kind, value = _case(rng, maxlen, vocab)
            method = rng.choice(["predict", "predict_proba"]) if kind != "ids" else "predict_ids"
            try:
                result = getattr(classifier, method)(value)
            except InputError as error:
                assert str(error) and "\n" not in str(error), repr(error)
                counts["refused"] += 1
                continue
            except Exception as error:  # noqa: BLE001 - nothing but InputError may escape
                raise AssertionError(f"input {number} ({kind}, {method}, {value!r:.80}): "
                                     f"{type(error).__name__}: {error}") from error
            counts["answered"] += 1
            _check_answer(classifier, kind, method, value, result)
    print(f"\ninputs fuzzed on {variant}/{backend}: {INPUTS_PER_BACKEND} ({counts})")
    assert counts["refused"] > 0 and counts["answered"] > 0


def _check_answer(classifier: Classifier, kind: str, method: str, value, result) -> None:  # noqa: ANN001
    """Right answers: probabilities in [0, 1], one per text, each equal to the text's own answer."""
    if method == "predict_ids":
        ids = np.asarray(value)
        assert result.shape == (len(ids),) and np.all((result >= 0) & (result <= 1))
        return
    scores = np.atleast_1d(np.asarray(result if method == "predict_proba" else
                                      [p.score for p in ([result] if kind in ("text", "bytes") else result)]))
    assert np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1)), scores
    if kind == "text" and scores.size == 1:
        text = str(value.item()) if isinstance(value, np.ndarray) else value
        single = classifier.predict_proba([text])
        assert abs(float(single[0]) - float(scores[0])) <= 1e-6
