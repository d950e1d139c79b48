"""Export's parts that need no model: edge cases, route choice, atomic bundle writing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.errors import ConfigError
from edgelstm.core.variants import (
    KERAS3_UNROLLED,
    KERAS3_WHILE,
    TF_KERAS_FUSED,
    VARIANTS,
    parse_variants,
    resolve_routes,
)
from edgelstm.export.evalset import edge_case_texts
from edgelstm.export.staging import check_target, remove_orphans, staging
from edgelstm.runtime.tokenizer import Tokenizer


@pytest.mark.parametrize("kind", ["vocab", "keras-imdb"])
def test_edge_cases_fit_both_tokenizer_kinds(kind: str) -> None:
    words = [f"word{i}" for i in range(40)]
    if kind == "vocab":
        tokenizer = Tokenizer.fit([" ".join(words)], vocab_size=30, maxlen=12)
    else:  # ranks 1..40; with num_words 30 the ranks above 26 fall out of vocabulary
        tokenizer = Tokenizer.from_keras_word_index({w: i + 1 for i, w in enumerate(words)}, num_words=30, maxlen=12)
    cases = edge_case_texts(tokenizer)
    assert len(tokenizer.tokens_to_ids(cases["exactly-maxlen-tokens"])) == 12
    oov = 1 if kind == "vocab" else 2
    assert oov not in tokenizer.encode(cases["exactly-maxlen-tokens"])
    unknown = tokenizer.encode(cases["only-unknown-words"])[0]
    assert set(unknown[unknown > 0]) <= ({1} if kind == "vocab" else {1, 2})
    assert len(tokenizer.tokens_to_ids(cases["far-longer-than-maxlen"])) > 12
    assert np.count_nonzero(tokenizer.encode(cases["empty"])) == (0 if kind == "vocab" else 1)  # the start marker


def test_routes_default_to_the_measured_choice_and_accept_the_alternative() -> None:
    specs = parse_variants(None)
    assert resolve_routes(specs) == {name: spec.routes[0] for name, spec in VARIANTS.items()}
    assert resolve_routes(specs)["tflite-int8"].name == TF_KERAS_FUSED
    assert resolve_routes(specs, ["tflite-int8=keras3-unrolled"])["tflite-int8"].name == KERAS3_UNROLLED
    assert resolve_routes(specs)["tflite-dynint8"].name == KERAS3_WHILE  # the fast path on LiteRT
    assert resolve_routes(specs, ["tflite-dynint8=tf_keras-fused"])["tflite-dynint8"].name == TF_KERAS_FUSED


@pytest.mark.parametrize("override, message", [
    ("tflite-fp32=tf2onnx", r"route 'tf2onnx' cannot build tflite-fp32: accepted are keras3-while, tf_keras-fused"),
    ("tflite-fp32", r"must read VARIANT=ROUTE"),
    ("onnx-fp32=tf2onnx", r"names onnx-fp32, which is not among the variants to export \(tflite-fp32\)"),
    ("tflite-16x8=keras3-while", r"16x8 quantization is not supported for LSTM"),
])
def test_a_bad_route_is_refused_naming_what_is_accepted(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_routes(parse_variants(["tflite-fp32"]), [override])


def _bundle(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "manifest.json").write_text(text)
    return folder


def test_staging_commits_on_success_and_vanishes_on_error(tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    with pytest.raises(RuntimeError):
        with staging(target, force=False) as folder:
            (folder / "manifest.json").write_text("new")
            raise RuntimeError("conversion failed")
    assert list(tmp_path.iterdir()) == []
    with staging(target, force=False) as folder:
        (folder / "manifest.json").write_text("new")
    assert (target / "manifest.json").read_text() == "new" and list(tmp_path.iterdir()) == [target]


def test_force_replaces_a_bundle_only_after_the_new_one_is_complete(tmp_path: Path) -> None:
    target = _bundle(tmp_path / "bundle", "old")
    with pytest.raises(ConfigError, match="already exists: pass --force"):
        with staging(target, force=False):
            pass
    with pytest.raises(RuntimeError):
        with staging(target, force=True) as folder:
            (folder / "manifest.json").write_text("new")
            raise RuntimeError("interrupted")
    assert (target / "manifest.json").read_text() == "old"
    with staging(target, force=True) as folder:
        (folder / "manifest.json").write_text("new")
        assert (target / "manifest.json").read_text() == "old"  # untouched while the new one is written
    assert (target / "manifest.json").read_text() == "new" and list(tmp_path.iterdir()) == [target]


def test_force_refuses_what_is_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        check_target(tmp_path / "file", force=True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep")
    with pytest.raises(ConfigError, match="not a bundle"):
        check_target(tmp_path / "notes", force=True)


def test_orphans_of_killed_exports_are_removed_and_a_lost_bundle_restored(tmp_path: Path) -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    dead = child.pid  # an export process that no longer exists
    partial = tmp_path / f".a.edgelstm-{dead}-x1.partial"
    partial.mkdir()
    aside = tmp_path / f".b.edgelstm-{dead}-x2.old"
    aside.mkdir()
    _bundle(aside / "previous", "old")  # killed between moving the old bundle aside and renaming the new one in
    mine = tmp_path / f".c.edgelstm-{os.getpid()}-x3.partial"
    mine.mkdir()
    assert sorted(remove_orphans(tmp_path)) == sorted([partial, aside])
    assert (tmp_path / "b" / "manifest.json").read_text() == "old"
    assert mine.exists()  # a running export's folder is left alone


def test_the_export_process_itself_never_imports_the_converters() -> None:
    """Only the child processes load TensorFlow: the orchestrator stays small and a crash stays there."""
    code = ("import sys\n"
            "for name in ('tensorflow', 'keras', 'tf_keras', 'tf2onnx', 'onnx', 'onnxruntime', 'ai_edge_litert'):\n"
            "    sys.modules[name] = None\n"
            "import edgelstm.export.pipeline, edgelstm.export.cli\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_full_int8_is_flagged_early_when_the_model_has_little_confidence() -> None:
    import numpy as np

    from edgelstm.core.variants import parse_variants
    from edgelstm.export.pipeline import risk_warnings

    confident = np.array([0.02, 0.97, 0.9, 0.1] * 50, np.float32)
    unsure = np.concatenate([confident, np.full(10, 0.505, np.float32)])  # 4.8 % within 0.01 of 0.5
    everything, floats = parse_variants(None), parse_variants(["onnx-fp32", "tflite-fp32"])
    assert risk_warnings(everything, confident) == []
    (warning,) = risk_warnings(everything, unsure)
    assert warning.startswith("tflite-int8 is unlikely to pass: 4.8 % of the held-out texts")
    assert risk_warnings(floats, unsure) == []


def _tflite_fields(roles: list[str]) -> dict:
    """A TFLite variant's manifest fields as export writes them, for the fast-path roles given."""
    inputs = {role: f"serving_default_{role}:0" for role in ["ids", *roles]}
    return {"inputs": [{"name": name} for name in inputs.values()], "fast_path": {"inputs": inputs}}


@pytest.mark.parametrize(("roles", "named"), [(["h0", "c0"], "zeros for h0 and c0"), (["h0"], "state h0;"),
                                              (["c0_layer1", "h0", "h0_layer1", "c0"], "h0, c0, h0_layer1 and c0_layer1")])
def test_plain_use_names_the_state_inputs_the_file_has(roles: list[str], named: str) -> None:
    # A GRU has no c0 and a stack has a state per layer: the sentence an app developer follows says so.
    from edgelstm.export.mobile_plan import plain_use

    use = plain_use(_tflite_fields(roles))
    assert use["inputs"] == len(roles) + 1 and named in use["how"], use
    assert use["how"].startswith(f"{len(roles) + 1} inputs") and "padded before the text" in use["how"]


def test_plain_use_says_where_the_padding_goes() -> None:
    # A TextVectorization bundle pads after the text: a plain interpreter must be fed that way.
    from edgelstm.export.mobile_plan import plain_use

    assert "ids padded after the text" in plain_use(_tflite_fields(["h0"]), padding="post")["how"]
    assert "ids padded after the text" in plain_use({"inputs": [{"name": "ids"}]}, padding="post")["how"]
    assert "ids padded before the text" in plain_use({"inputs": [{"name": "ids"}]})["how"]
