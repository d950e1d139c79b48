"""docs/contracts.md states what the code does: its generated tables, file names, preference order, staging name."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgelstm.core.variants import PREFERENCE, VARIANTS, markdown_tables

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")


def docs_tables():  # noqa: ANN201 - the script module, loaded by path
    spec = importlib.util.spec_from_file_location("docs_tables", ROOT / "scripts" / "docs_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_variant_tables_are_generated_from_the_variant_table() -> None:
    block = docs_tables().generated_block(DOC)
    assert block.strip() == markdown_tables().strip(), \
        "docs/contracts.md's variant tables drifted from edgelstm.core.variants: run python scripts/docs_tables.py"


def test_the_preference_order_in_the_docs_is_the_tables() -> None:
    assert ", ".join(PREFERENCE) in DOC, f"docs/contracts.md should list the preference order {PREFERENCE}"
    assert [spec.rank for spec in VARIANTS.values()] and sorted(s.rank for s in VARIANTS.values()) == \
        list(range(1, len(VARIANTS) + 1)), "ranks must be 1..n, one per variant"
