"""The manifest's typed records: every field checked when read, each wrong one a one-line BundleError naming it.

Runs on the schema-1 fixture (tests/fixtures/schema1) and on that manifest rewritten as schema 2,
damaged field by field: no KeyError, TypeError or AttributeError may escape.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from edgelstm.core.errors import BundleError
from edgelstm.core.manifest import SCHEMA_VERSION, Manifest
from edgelstm.core.outputs import SIGMOID, SOFTMAX
from edgelstm.core.variants import VARIANTS

FIXTURE = Path(__file__).parent / "fixtures" / "schema1" / "bundle" / "manifest.json"
SCHEMA1 = json.loads(FIXTURE.read_text(encoding="utf-8"))
# Values of every JSON type but the right one, for whichever field they replace.
HOSTILE = (None, True, -1, 1.5, float("nan"), "", "x" * 300, [], [1, [2]], {}, {"a": {"b": None}})


def schema2() -> dict[str, Any]:
    """The fixture's manifest as this code writes it: read, then written."""
    return Manifest.from_dict(copy.deepcopy(SCHEMA1)).to_dict()


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into nested objects, and into the first item of each list."""
    found = []
    items = data.items() if isinstance(data, dict) else list(enumerate(data))[:1] if isinstance(data, list) else []
    for key, value in items:
        found.append(prefix + (key,))
        found += paths(value, prefix + (key,))
    return found


def test_schema1_reads_with_the_tables_bounds_and_a_sigmoid_output() -> None:
    manifest = Manifest.from_dict(copy.deepcopy(SCHEMA1))
    assert manifest.schema_version == 1 and manifest.task.output == SIGMOID
    assert manifest.task.labels == ("neg", "pos")
    for name, entry in manifest.variants.items():
        assert entry.tolerance == VARIANTS[name].tolerance


def test_schema1_threshold_is_read_and_must_be_the_label_rule() -> None:
    data = copy.deepcopy(SCHEMA1)
    assert data["task"]["threshold"] == 0.5
    data["task"]["threshold"] = 0.7  # a runtime that ignored it would label differently than the manifest says
    with pytest.raises(BundleError, match=r"task.threshold must be 0.5"):
        Manifest.from_dict(data)
    del data["task"]["threshold"]
    assert Manifest.from_dict(data).task.output == SIGMOID


def test_schema2_round_trips_and_keeps_the_applied_bounds() -> None:
    written = schema2()
    assert written["schema_version"] == SCHEMA_VERSION  # a schema-1 manifest read is written as schema 2
    again = Manifest.from_dict(copy.deepcopy(written))
    assert again.to_dict() == written
    assert "threshold" not in written["task"] and written["task"]["output"] == SIGMOID
    assert all("tolerance" in entry for entry in written["variants"].values())


def test_schema2_accepts_many_labels_with_a_softmax_output() -> None:
    data = schema2()
    data["schema_version"] = SCHEMA_VERSION
    data["task"].update(labels=["a", "b", "c"], output=SOFTMAX)
    assert Manifest.from_dict(data).task.labels == ("a", "b", "c")


@pytest.mark.parametrize("change, message", [
    (lambda d: d["task"].update(labels=["a", "b", "c"]), r"task.labels must name exactly two labels for a sigmoid"),
    (lambda d: d["task"].update(labels=["only"]), r"task.labels must be a list of at least 2"),
    (lambda d: d["task"].update(output="relu"), r"task.output must be one of sigmoid, softmax"),
    (lambda d: d["variants"]["onnx-fp32"]["tolerance"].update(min_label_agreement=2), r"min_label_agreement"),
    (lambda d: d["variants"]["onnx-fp32"].update(route="keras3-while"), r"variants.onnx-fp32.route must be one of"),
    (lambda d: d["files"].update({"../x": {"sha256": "0" * 64, "bytes": 1}}), r"not a plain file name"),
    (lambda d: d.update(default_variant="tflite-int16x8"), r"default_variant/variant_preference names"),
    (lambda d: d["golden"].update(count=3), r"golden.count must equal"),
    (lambda d: d["files"].pop("tokenizer.json"), r"'tokenizer.json' \(the tokenizer\) is not listed with a checksum"),
    (lambda d: d["task"].update(maxlen=10 ** 9), r"task.maxlen must be an integer in \[1, 100000\]"),
    (lambda d: d["task"].update(vocab_size=2), r"task.vocab_size must be an integer in \[3, 10000000\]"),
    (lambda d: d["files"]["tokenizer.json"].update(bytes=1 << 40), r"files.tokenizer.json.bytes must be an integer"),
    (lambda d: d["source_run"]["architecture"].update(lstm_units="8"), r"source_run.architecture.lstm_units"),
    (lambda d: d["variants"]["onnx-fp32"].update(description="x" * 5000), r"variants.onnx-fp32.description"),
    (lambda d: d.update(rejected={"tflite-int8": {"route": "tf_keras-fused", "stage": "parity", "error": "x"}}),
     r"rejected.tflite-int8.parity must hold the figures"),
    (lambda d: d.update(rejected={"tflite-int8": {"route": "tf_keras-fused", "stage": "later", "error": "x"}}),
     r"rejected.tflite-int8.stage must be one of convert, check, parity"),
    (lambda d: d.update(derived_from={"manifest_sha256": "abc", "variants": ["onnx-fp32"]}),
     r"derived_from.manifest_sha256 must be 64 lowercase hex digits"),
    (lambda d: d.update(derived_from={"manifest_sha256": "0" * 64, "variants": "onnx-fp32"}),
     r"derived_from.variants must be a list"),
])
def test_a_wrong_field_is_named(change, message: str) -> None:  # noqa: ANN001 - a lambda per case
    data = schema2()
    data["schema_version"] = SCHEMA_VERSION
    change(data)
    with pytest.raises(BundleError, match=message):
        Manifest.from_dict(data)


def test_every_field_replaced_by_a_hostile_value_is_a_bundle_error_or_accepted() -> None:
    """Swap each field for values of every wrong type: a BundleError of one line, or a manifest."""
    base = schema2()
    base["schema_version"] = SCHEMA_VERSION
    checked = 0
    for path in paths(base):
        for value in HOSTILE:
            data = copy.deepcopy(base)
            holder = data
            for key in path[:-1]:
                holder = holder[key]
            holder[path[-1]] = value
            try:
                Manifest.from_dict(data)
            except BundleError as error:
                assert "\n" not in str(error) and len(str(error)) < 400, str(error)
            checked += 1
    assert checked > 500


def test_a_non_object_manifest_is_refused() -> None:
    for value in ([], "manifest", 2, None):
        with pytest.raises(BundleError, match="must be an object"):
            Manifest.from_dict(value)


def test_rejected_records_and_derived_from_round_trip_as_typed_fields() -> None:
    data = schema2()
    figures = {"max_abs_diff": 0.2, "label_agreement": 0.9, "failures": ["label agreement 90.00% < 99.00%"]}
    data["rejected"] = {"tflite-int8": {"route": "tf_keras-fused", "stage": "parity", "error": "over its bound",
                                        "parity": figures},
                        "tflite-fp16": {"route": "keras3-while", "stage": "convert", "error": "SIGSEGV"}}
    data["derived_from"] = {"manifest_sha256": "a" * 64, "variants": ["onnx-fp32", "tflite-int8"]}
    manifest = Manifest.from_dict(copy.deepcopy(data))
    rejected = manifest.rejected["tflite-int8"]
    assert (rejected.stage, rejected.error, rejected.parity) == ("parity", "over its bound", figures)
    assert manifest.rejected["tflite-fp16"].parity is None
    assert manifest.derived_from is not None and manifest.derived_from.variants == ("onnx-fp32", "tflite-int8")
    assert manifest.to_dict() == data
    del data["derived_from"]
    assert "derived_from" not in Manifest.from_dict(data).to_dict()  # only slim bundles carry it


def test_a_hostile_key_keeps_the_message_one_short_line() -> None:
    data = schema2()
    data["variants"] = {"x" * 4000: []}
    with pytest.raises(BundleError) as raised:
        Manifest.from_dict(data)
    assert len(str(raised.value)) < 300 and "\n" not in str(raised.value)


def test_export_refuses_a_field_the_records_would_drop(tmp_path: Path) -> None:
    """A reader ignores what it does not know, so export must not write a field no record holds."""
    from edgelstm.core.errors import ExportError
    from edgelstm.export.manifest import write_manifest

    data = schema2()
    data["variants"]["onnx-fp32"]["hardware_hint"] = {"inputs": 1}  # no record has such a field
    with pytest.raises(ExportError, match=r"variants.onnx-fp32.hardware_hint are not in the records"):
        write_manifest(data, tmp_path)
    assert not (tmp_path / "manifest.json").exists()
    del data["variants"]["onnx-fp32"]["hardware_hint"]
    assert write_manifest(data, tmp_path).to_dict() == json.loads((tmp_path / "manifest.json").read_text())
