"""docs/contracts.md states what the code does: its generated tables, file names, preference order, staging name."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgelstm.core.variants import FAMILY_LEADS, PREFERENCE, VARIANTS, markdown_tables

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
    for feature, lead in FAMILY_LEADS.items():
        assert f"a {feature.upper()} layer puts {lead} first" in DOC, f"docs/contracts.md should state {feature}'s lead"
    assert [spec.rank for spec in VARIANTS.values()] and sorted(s.rank for s in VARIANTS.values()) == \
        list(range(1, len(VARIANTS) + 1)), "ranks must be 1..n, one per variant"


def test_the_file_names_in_the_docs_are_the_codes() -> None:
    from edgelstm.core import manifest, rundir
    from edgelstm.runtime import bundle, padding

    names = [manifest.MANIFEST, bundle.TOKENIZER, bundle.GOLDEN, bundle.WEIGHTS, bundle.MODEL_CARD,
             padding.PADDING_STATES, *rundir.RUN_FILES]
    missing = [name for name in names if f"  {name}" not in DOC]
    assert not missing, f"docs/contracts.md's layouts lack {missing}"
    for spec in VARIANTS.values():
        assert spec.filename == f"model-{spec.name}.{spec.format}"
    assert "model-<variant>.tflite | .onnx" in DOC


def test_the_staging_folder_name_in_the_docs_is_the_one_staging_makes(tmp_path: Path) -> None:
    from edgelstm.core import staging

    with staging.staging(tmp_path / "BUNDLE", force=False, marker="manifest.json", kind="bundle") as folder:
        made = folder.name
    assert staging.PARTIAL.match(made), made
    documented = made.split("-", 1)[0] + "-<pid>-*.partial"  # ".BUNDLE.edgelstm-<pid>-*.partial"
    assert f"`{documented}`" in DOC, f"docs/contracts.md should name the staging folder {documented}"


def test_the_manifest_schema_in_the_docs_is_the_codes() -> None:
    from edgelstm.core.manifest import READABLE_SCHEMAS, SCHEMA_VERSION, STAGES

    assert f"### manifest.json (schema_version {SCHEMA_VERSION})" in DOC
    assert f"`{SCHEMA_VERSION}` (`{READABLE_SCHEMAS[0]}` is still read)" in DOC
    rejected = next(line for line in DOC.splitlines() if line.startswith("| `rejected` |"))
    assert all(f"`{stage}`" in rejected for stage in STAGES), f"the rejected row should name the stages {STAGES}"
