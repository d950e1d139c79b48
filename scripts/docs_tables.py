"""Rewrite the generated tables of docs/contracts.md from the code: `python scripts/docs_tables.py`.

tests/test_contract_docs.py fails when the document and the code disagree; this puts them back in step.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from edgelstm.core.variants import markdown_tables

DOC = Path(__file__).resolve().parents[1] / "docs" / "contracts.md"
BLOCK = re.compile(r"(<!-- variant-table:begin[^>]*-->\n).*?(<!-- variant-table:end -->)", re.S)


def generated_block(text: str) -> str:
    """The text between the variant table's markers, or "" when the markers are missing."""
    match = BLOCK.search(text)
    return text[match.end(1):match.start(2)] if match else ""


def with_tables(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + markdown_tables() + "\n" + m.group(2), text)


def main() -> int:
    text = DOC.read_text(encoding="utf-8")
    if not BLOCK.search(text):
        print(f"{DOC} lacks the variant-table markers", file=sys.stderr)
        return 1
    DOC.write_text(with_tables(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
