"""Every .tflite of a bundle is right when an app uses it plainly (issue 10 §1).

An app loads the file with the platform's interpreter, invokes it once per text, feeds
the inputs the file declares and never calls reset_all_variables(). This test does
exactly that with ai-edge-litert directly (not through edgelstm.runtime): one interpreter,
row after row, against a fresh interpreter per row and against the Keras reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.plain import sequential_and_fresh, tflite_variants

from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.parity import compare

pytest.importorskip("ai_edge_litert.interpreter", reason="needs ai-edge-litert")
FRESH_ROWS = 40  # a fresh interpreter per row is slow; the sequential run covers every row


@pytest.fixture(scope="module")
def bundle(tiny_bundle: Path) -> Bundle:
    return Bundle.open(tiny_bundle)


def entry_of(bundle: Bundle, name: str) -> dict:
    """The variant's manifest entry as written (the typed record's dict)."""
    return bundle.variant(name).to_dict()


def test_the_bundle_has_tflite_files_for_apps(bundle: Bundle) -> None:
    names = tflite_variants(bundle)
    assert len(names) >= 4, names
    single = [name for name in names if len(entry_of(bundle, name)["inputs"]) == 1]
    assert "mobile-fp32" in single and "mobile-dynint8" in single, single  # a plain one-input file exists
    assert all(not entry_of(bundle, name)["reset_variables"] for name in ("mobile-fp32", "mobile-dynint8"))


def test_every_tflite_is_right_invoked_row_after_row_on_one_interpreter(bundle: Bundle) -> None:
    golden = bundle.golden()
    ids, keras = golden["ids"], golden["keras_probs"]
    names = tflite_variants(bundle)
    assert "tflite-int8" in names  # the fused full-int8 file, whose LSTM state lives in variable tensors
    for name in names:
        entry = entry_of(bundle, name)
        content = bundle.read_checked(entry["file"])
        sequential, separate = sequential_and_fresh(content, ids, FRESH_ROWS)
        # Identical arithmetic: a stateless file gives each row the same answer either way.
        np.testing.assert_array_equal(sequential[:FRESH_ROWS], separate, err_msg=f"{name} keeps state between texts")
        parity = compare(sequential, keras, variant=name, labels=golden["labels"])
        assert parity.passed, f"{name} used plainly: {parity.failures}"
        assert entry["reset_variables"] is False and entry["plain_use"]["stateless"] is True, name


def test_files_with_state_inputs_say_so_in_the_manifest_and_the_card(bundle: Bundle) -> None:
    card = (bundle.root / "README.md").read_text(encoding="utf-8")
    for name in tflite_variants(bundle):
        entry = entry_of(bundle, name)
        if len(entry["inputs"]) > 1:
            assert entry["fast_path"]["inputs"].keys() == {"ids", "h0", "c0"}, name
            assert "h0" in entry["plain_use"]["how"] and entry["plain_use"]["inputs"] == 3, name
            assert f"`{name}`" in card and "zeros for h0 and c0" in card, name
