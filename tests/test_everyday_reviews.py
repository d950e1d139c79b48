"""The demo model on plain English: `make demo`'s recipe, trained here, labels >= 90 % of
fixed everyday reviews right (tests/data/everyday_reviews.jsonl, written for this test and
never generated from the corpus templates)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVERYDAY = ROOT / "tests" / "data" / "everyday_reviews.jsonl"
REQUIRED_ACCURACY = 0.90


def everyday() -> list[dict]:
    return [json.loads(line) for line in EVERYDAY.read_text(encoding="utf-8").splitlines() if line.strip()]


def demo_train_flags() -> list[str]:
    """The demo's training settings, read from the Makefile (their one place)."""
    text = ROOT.joinpath("Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"^DEMO_TRAIN := (.+)$", text, flags=re.MULTILINE)
    assert match, "Makefile has no DEMO_TRAIN line"
    return shlex.split(match.group(1))


def test_the_everyday_set_is_big_balanced_and_has_the_hard_cases() -> None:
    rows = everyday()
    assert len(rows) >= 40 and len({r["text"] for r in rows}) == len(rows)
    labels = [r["label"] for r in rows]
    assert abs(labels.count("pos") - labels.count("neg")) <= 2 and set(labels) == {"pos", "neg"}
    texts = {r["text"].lower().rstrip(".!") for r in rows}
    assert {"good", "bad", "great", "terrible movie", "dull", "not bad at all", "not good"} <= texts
    assert any(" but " in t for t in texts) and any(len(t.split()) > 25 for t in texts)


@pytest.mark.slow
def test_the_demo_recipe_labels_everyday_reviews_right(tmp_path: Path) -> None:
    from edgelstm.main import main
    from edgelstm.train.evaluate import evaluate

    run = tmp_path / "run"
    assert main(["train", "--data", "synthetic", *demo_train_flags(), "--out", str(run), "--quiet"]) == 0
    result = evaluate(run, str(EVERYDAY))
    assert result["examples"] == len(everyday())
    assert result["accuracy"] >= REQUIRED_ACCURACY, result
