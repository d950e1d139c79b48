"""The mobile variants in the client that ships them: MediaPipe Tasks' TextClassifier (issue 10 §2, §3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.errors import ConfigError
from edgelstm.core.variants import VARIANTS, parse_variants
from edgelstm.export.mobile_plan import plan
from edgelstm.export.mobile_tokenizer import DELIMITER, case_forms, regex_tokenizer, why_not_expressible
from edgelstm.runtime import mediapipe_client, textarrays
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.standardize import RULE_CJK, RULE_V1
from edgelstm.runtime.tokenizer import Tokenizer
from edgelstm.runtime.verify import MEDIAPIPE, verify_bundle

MOBILE = [name for name, spec in VARIANTS.items() if spec.is_mobile]
needs_mediapipe = pytest.mark.skipif(not mediapipe_client.is_installed(),
                                     reason="needs mediapipe (pip install 'edgelstm[mediapipe]')")


@pytest.fixture(scope="module")
def bundle(tiny_bundle: Path) -> Bundle:
    return Bundle.open(tiny_bundle)


def entry_of(bundle: Bundle, name: str) -> dict:
    """The variant's manifest entry as written (the typed record's dict)."""
    return bundle.variant(name).to_dict()


def test_case_forms_fold_back_to_the_word_and_nothing_else() -> None:
    assert case_forms("don't") == ["Don't", "DON'T"]
    assert case_forms("a") == ["A"]
    assert case_forms("123") == []


def test_the_vocabulary_keeps_every_id_and_lists_case_forms_under_it() -> None:
    tokenizer = Tokenizer.fit(["the Film was great", "the plot was thin"], vocab_size=20, maxlen=8)
    regex = regex_tokenizer(tokenizer)
    ids = dict(regex.vocabulary)
    assert ids["<PAD>"] == 0 and ids["<UNKNOWN>"] == 1 and regex.delimiter == DELIMITER
    for index, word in enumerate(tokenizer.words, start=2):
        assert ids[word] == ids[word.upper()] == ids[word[:1].upper() + word[1:]] == index
    assert len({token for token, _ in regex.vocabulary}) == len(regex.vocabulary)  # one id per token


def test_a_tokenizer_a_regex_cannot_express_gets_no_mobile_variant_and_one_reason() -> None:
    keras_imdb = Tokenizer.from_keras_word_index({"good": 1, "film": 2}, num_words=10, maxlen=8)
    reason = why_not_expressible(keras_imdb)
    assert reason and "\n" not in reason and "keras-imdb" in reason
    specs, skipped = plan(parse_variants(None), keras_imdb, named=False)
    assert not any(spec.is_mobile for spec in specs) and set(skipped) == set(MOBILE)
    assert set(skipped.values()) == {reason}
    with pytest.raises(ConfigError, match="mobile-fp32 cannot be built: the keras-imdb tokenizer"):
        plan(parse_variants(["mobile-fp32"]), keras_imdb, named=True)


def test_the_cjk_rule_gets_a_mobile_variant_only_without_character_words() -> None:
    english = Tokenizer.fit(["the film was great", "the plot was thin"], vocab_size=20, maxlen=8, rule=RULE_CJK)
    assert why_not_expressible(english) is None  # on text without CJK characters the rule is v1's
    chinese = Tokenizer.fit(["这部电影很好", "the film"], vocab_size=20, maxlen=8, rule=RULE_CJK)
    reason = why_not_expressible(chinese)
    assert reason and "\n" not in reason and RULE_CJK in reason and "between two characters" in reason
    specs, skipped = plan(parse_variants(None), chinese, named=False)
    assert not any(spec.is_mobile for spec in specs) and set(skipped.values()) == {reason}
    # The same characters under the v1 rule are one word per run, which a delimiter does split out.
    assert why_not_expressible(Tokenizer.fit(["这部电影很好"], vocab_size=20, maxlen=8, rule=RULE_V1)) is None


@pytest.mark.parametrize("name", MOBILE)
def test_the_mobile_file_is_what_mediapipe_needs(bundle: Bundle, name: str) -> None:
    entry = entry_of(bundle, name)
    assert len(entry["ops"]) == 1, "MediaPipe refuses a model with more than one subgraph"
    assert not {"WHILE", "UNIDIRECTIONAL_SEQUENCE_LSTM"} & set(entry["ops"][0])
    assert entry["reset_variables"] is False
    (ids,) = entry["inputs"]
    (scores,) = entry["outputs"]
    facts = entry["mediapipe"]
    assert ids["dtype"] == "int32" and ids["shape"] == [1, facts["input_tokens"]]
    assert facts["input_tokens"] > bundle.manifest.task.maxlen
    assert scores["dtype"] == "float32" and scores["shape"] == [1, len(bundle.labels)]
    assert facts["labels"] == list(bundle.labels) and facts["delimiter"] == DELIMITER
    assert set(entry["ops"][0]) >= {"NOT_EQUAL", "SUM", "GATHER", "SELECT"}  # the window, in the graph


def test_the_metadata_names_the_parser_version_a_regex_tokenizer_needs(bundle: Bundle) -> None:
    from ai_edge_litert import schema_py_generated as schema
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    model = schema.Model.GetRootAs(bundle.path(entry_of(bundle, "mobile-fp32")["file"]).read_bytes(), 0)
    (metadata,) = [model.Metadata(i) for i in range(model.MetadataLength()) if model.Metadata(i).Name() == b"TFLITE_METADATA"]
    raw = model.Buffers(metadata.Buffer()).DataAsNumpy().tobytes()
    root = fb.ModelMetadata.GetRootAsModelMetadata(raw, 0)
    assert root.MinParserVersion() == b"1.2.1"  # metadata_version.cc: RegexTokenizerOptions came in 1.2.1
    process = root.SubgraphMetadata(0).InputTensorMetadata(0).ProcessUnits(0)
    assert process.OptionsType() == fb.ProcessUnitOptions.RegexTokenizerOptions


@needs_mediapipe
@pytest.mark.parametrize("name", MOBILE)
def test_mediapipe_on_raw_text_matches_keras_and_what_export_recorded(bundle: Bundle, name: str) -> None:
    golden = bundle.golden()
    texts = textarrays.unpack(golden)
    assert texts is not None and golden["has_text"].all()  # the synthetic run keeps its validation texts
    probs = mediapipe_client.label_probabilities(bundle.read_checked(entry_of(bundle, name)["file"]), texts)
    recorded = entry_of(bundle, name)["mediapipe"]
    differs = np.isin(np.arange(len(texts)), recorded["differing_rows"])
    same = ~differs
    keras = golden["keras_probs"]
    bound = VARIANTS[name].tolerance.max_abs_diff
    if bound is not None:
        assert np.abs(probs[same] - keras[same]).max() <= bound
    agree = np.mean((probs >= 0.5) == (keras >= 0.5))
    assert agree >= VARIANTS[name].raw_text_tolerance.min_label_agreement
    assert agree == pytest.approx(recorded["parity"]["label_agreement"])
    assert recorded["texts"] == len(texts) and recorded["tokenization_differs"] == differs.sum()


def test_mediapipe_tokenization_differences_are_counted_and_shown(bundle: Bundle) -> None:
    names = list(bundle.manifest.golden.edge_case_names)
    golden = bundle.golden()
    row = int(np.flatnonzero(golden["edge_case"])[names.index("case-and-width-forms")])
    recorded = entry_of(bundle, "mobile-fp32")["mediapipe"]
    assert row in recorded["differing_rows"]  # mixed case and full-width letters: unknown to a regex
    example = next(e for e in recorded["examples"] if e["row"] == row)
    assert example["mediapipe"] == ["<UNKNOWN>", "<UNKNOWN>"] and "<UNKNOWN>" not in example["ours"]


@needs_mediapipe
def test_verify_runs_the_mobile_variants_in_mediapipe(tiny_bundle: Path) -> None:
    report = verify_bundle(tiny_bundle, variants=MOBILE, backends=[MEDIAPIPE])
    rows = {check.variant: check for check in report.checks}
    assert set(rows) == set(MOBILE) and report.passed
    assert all(check.path == "text" and check.parity.n == len(Bundle.open(tiny_bundle).golden()["ids"])
               for check in rows.values())


@needs_mediapipe
def test_bench_measures_mediapipe_on_raw_text(tiny_bundle: Path, tmp_path: Path) -> None:
    import json

    from edgelstm.main import main

    code = main(["bench", str(tiny_bundle), "--variants", "mobile-dynint8", "--backends", "mediapipe", "--runs", "3",
                 "--warmup", "1", "--no-progress", "--no-keras", "--no-plots", "--out", str(tmp_path)])
    assert code == 0
    (row,) = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert row["status"] == "ok" and row["backend"] == "mediapipe" and row["input"] == "raw text"
    bound = VARIANTS["mobile-dynint8"].raw_text_tolerance.min_label_agreement
    assert row["latency"]["real"]["p50_ms"] > 0 and row["parity"]["label_agreement"] >= bound
    assert row["tensorflow_imported"] is False  # MediaPipe's optional TensorFlow import stays blocked


def test_a_malformed_mediapipe_entry_is_refused_with_its_field(bundle_copy: Path) -> None:
    import json

    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["variants"]["mobile-fp32"]["mediapipe"]["input_layout"] = "sideways"
    path.write_text(json.dumps(manifest))
    with pytest.raises(Exception, match=r"variants.mobile-fp32.mediapipe.input_layout .*post-padded"):
        Bundle.open(bundle_copy)
