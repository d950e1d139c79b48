"""manifest.json of a bundle (docs/contracts.md, "Bundle"): built from what export measured."""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgelstm import __version__
from edgelstm.core.hashing import sha256_of
from edgelstm.core.jsonio import write_json
from edgelstm.core.outputs import LABEL_THRESHOLD
from edgelstm.core.variants import NUMPY, PREFERENCE, VARIANTS
from edgelstm.core.versions import library_versions
from edgelstm.export.evalset import EvalSet
from edgelstm.export.source import Run
from edgelstm.runtime.bundle import GOLDEN, MANIFEST, SCHEMA_VERSION, STATUS_PASSED, WEIGHTS

OUTPUT = "sigmoid probability of label 1"


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_manifest(*, run: Run, evalset: EvalSet, architecture: dict[str, Any],
                   variants: dict[str, dict[str, Any]], rejected: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every field but `files`, which `add_files` fills once every other file is written."""
    ordered = {name: variants[name] for name in VARIANTS if name in variants}
    preference = [name for name in PREFERENCE if variants.get(name, {}).get("status") == STATUS_PASSED]
    return {
        "schema_version": SCHEMA_VERSION,
        "created": utc_now(),
        "producer": {"edgelstm": __version__, "python": platform.python_version(), "libraries": library_versions()},
        "source_run": _source_run(run, architecture),
        "task": _task(run),
        "files": {},
        "variants": ordered,
        "rejected": rejected,
        "default_variant": preference[0] if preference else None,
        "variant_preference": preference,
        "weights": {"file": WEIGHTS, "gate_order": "ifco",
                    "serves": [name for name, entry in ordered.items()
                               if NUMPY in VARIANTS[name].route(entry["route"]).runs_on]},
        "golden": {"file": GOLDEN, "count": len(evalset), "edge_cases": int(evalset.edge_case.sum()),
                   "held_out": int((~evalset.edge_case).sum()), "edge_case_names": evalset.edge_case_names,
                   "source": "validation.npz of the run: rows the model never trained on"},
    }


def _source_run(run: Run, architecture: dict[str, Any]) -> dict[str, Any]:
    validation = run.metrics.get("validation", {})
    return {"name": run.root.resolve().name, "config": run.config, "model_sha256": sha256_of(run.model_path),
            "data_fingerprint": run.metrics.get("data", {}), "validation_accuracy": validation.get("accuracy"),
            "architecture": {"layers": "Embedding -> LSTM -> Dense(1, sigmoid)", **architecture}}


def _task(run: Run) -> dict[str, Any]:
    tokenizer = run.tokenizer
    return {"labels": run.labels, "maxlen": tokenizer.maxlen, "padding": tokenizer.padding,
            "truncating": tokenizer.truncating, "tokenizer": tokenizer.kind, "vocab_size": tokenizer.vocab_size,
            "output": OUTPUT, "threshold": LABEL_THRESHOLD}


def add_files(manifest: dict[str, Any], folder: Path) -> None:
    """List every file in `folder` but the manifest itself, with its size and sha256."""
    manifest["files"] = {path.name: {"sha256": sha256_of(path), "bytes": path.stat().st_size}
                         for path in sorted(folder.iterdir()) if path.is_file() and path.name != MANIFEST}


def write_manifest(manifest: dict[str, Any], folder: Path) -> None:
    write_json(folder / MANIFEST, manifest)
