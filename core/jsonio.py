"""JSON files as every stage writes them: UTF-8, indented, one trailing newline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def dumps(data: Any) -> str:
    """The text `write_json` writes: readable in a diff, non-ASCII kept as is."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_json(path: str | Path, data: Any) -> None:
    Path(path).write_text(dumps(data), encoding="utf-8")
