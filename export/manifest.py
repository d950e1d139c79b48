"""manifest.json of a bundle (docs/contracts.md, "Bundle"): built from what export measured.

The fields are gathered here, then checked and written through the typed records of
`edgelstm.core.manifest`, the same checks a device applies when it reads the bundle.
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgelstm import __version__
from edgelstm.core import family
from edgelstm.core.errors import ExportError
from edgelstm.core.hashing import sha256_of
from edgelstm.core.jsonio import write_json
from edgelstm.core.manifest import GOLDEN, MANIFEST, SCHEMA_VERSION, STATUS_PASSED, WEIGHTS, Manifest
from edgelstm.core.outputs import SIGMOID
from edgelstm.core.rundir import RunDirectory
from edgelstm.core.variants import NUMPY, VARIANTS, preference_for
from edgelstm.core.versions import library_versions
from edgelstm.export.evalset import EvalSet


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_manifest(*, run: RunDirectory, evalset: EvalSet, architecture: dict[str, Any],
                   variants: dict[str, dict[str, Any]], rejected: dict[str, dict[str, Any]],
                   skipped: dict[str, str] | None = None, output: str = SIGMOID) -> dict[str, Any]:
    """Every field but `files`, which `add_files` fills once every other file is written; `output` is
    the head's kind (edgelstm.core.outputs: sigmoid or softmax)."""
    ordered = {name: variants[name] for name in VARIANTS if name in variants}
    preference = [name for name in preference_for(family.record_features(architecture))
                  if variants.get(name, {}).get("status") == STATUS_PASSED]
    return {
        "schema_version": SCHEMA_VERSION,
        "created": utc_now(),
        "producer": {"edgelstm": __version__, "python": platform.python_version(), "libraries": library_versions()},
        "source_run": _source_run(run, architecture),
        "task": _task(run, output),
        "files": {},
        "variants": ordered,
        "rejected": rejected,
        # Variants of the default set this bundle cannot have, with the one-line reason
        # (a tokenizer MediaPipe's RegexTokenizer cannot express, mediapipe not installed).
        "skipped": dict(skipped or {}),
        "default_variant": preference[0] if preference else None,
        "variant_preference": preference,
        "weights": {"file": WEIGHTS, "gate_order": "ifco",
                    "serves": [name for name, entry in ordered.items()
                               if NUMPY in VARIANTS[name].route(entry["route"]).runs_on]},
        "golden": {"file": GOLDEN, "count": len(evalset), "edge_cases": int(evalset.edge_case.sum()),
                   "held_out": int((~evalset.edge_case).sum()), "edge_case_names": evalset.edge_case_names,
                   "source": golden_source(run)},
    }


def golden_source(run: RunDirectory) -> str:
    """What the evaluation set's rows (besides the edge cases) are: a run's held-out split, or what an
    imported model file was gated on (edgelstm.export.model_file: --data, --texts or drawn ids)."""
    gate = (run.config.get("imported") or {}).get("gate")
    return f"{gate}, with the edge cases" if gate else "validation.npz of the run: rows the model never trained on"


def _source_run(run: RunDirectory, architecture: dict[str, Any]) -> dict[str, Any]:
    validation = run.metrics.get("validation", {})
    return {"name": run.root.resolve().name, "config": run.config, "model_sha256": sha256_of(run.model_path),
            "data_fingerprint": run.metrics.get("data", {}), "validation_accuracy": validation.get("accuracy"),
            "architecture": dict(architecture)}  # keras_model.Architecture.to_dict: "layers" describes the stack


def _task(run: RunDirectory, output: str) -> dict[str, Any]:
    tokenizer = run.tokenizer
    return {"labels": run.labels, "maxlen": tokenizer.maxlen, "padding": tokenizer.padding,
            "truncating": tokenizer.truncating, "tokenizer": tokenizer.kind, "vocab_size": tokenizer.vocab_size,
            "output": output}


def add_files(manifest: dict[str, Any], folder: Path) -> None:
    """List every file in `folder` but the manifest itself, with its size and sha256."""
    manifest["files"] = {path.name: {"sha256": sha256_of(path), "bytes": path.stat().st_size}
                         for path in sorted(folder.iterdir()) if path.is_file() and path.name != MANIFEST}


def write_manifest(manifest: dict[str, Any], folder: Path) -> Manifest:
    """Check every field as a reader will (a bug here fails the export, not a device), then write it."""
    checked = Manifest.from_dict(manifest)
    written = checked.to_dict()
    dropped = dropped_fields(manifest, written)
    if dropped:  # a reader ignores fields it does not know; export must not lose one silently
        raise ExportError(f"manifest field(s) {', '.join(dropped)} are not in the records of edgelstm.core.manifest: "
                          "add them to their record's from_fields/to_dict")
    write_json(folder / MANIFEST, written)
    return checked


def dropped_fields(given: Any, written: Any, path: str = "") -> list[str]:
    """Paths of keys with a value in `given` that `written` lacks (free-form objects are kept whole)."""
    if isinstance(given, list) and isinstance(written, list) and len(given) == len(written):
        return [item for i, (a, b) in enumerate(zip(given, written)) for item in dropped_fields(a, b, f"{path}[{i}]")]
    if not (isinstance(given, dict) and isinstance(written, dict)):
        return []
    dropped = []
    for key, value in given.items():
        where = f"{path}.{key}" if path else key
        if key not in written:
            if value is not None:
                dropped.append(where)
        else:
            dropped += dropped_fields(value, written[key], where)
    return dropped
