"""The type and range of every manifest field the runtime reads, checked before any is used.

Each refusal names the field's path (`variants.onnx-fp32.fast_path.inputs`) and what is
accepted, in one line. The typed manifest of the shared core package will take these
checks over; until then this is the one place they live.
"""

from __future__ import annotations

import re
from typing import Any

from edgelstm.core.errors import BundleError
from edgelstm.core.variants import VARIANTS
from edgelstm.runtime.padding import FAST_PATH_INPUTS

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_MAXLEN = 100_000
MAX_VOCAB = 10_000_000
MAX_FILE_BYTES = 1 << 34  # 16 GiB: no model of this project comes near
STATUSES = ("passed", "failed")
FORMATS = ("tflite", "onnx")


class _Fields:
    """Typed access to one manifest object, naming the field path in every error."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, problem: str) -> BundleError:
        return BundleError(f"{self.where}: field {path} {problem}; the bundle is corrupted or not made by edgelstm export")

    def object(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"is {_kind(value)}, expected an object")
        return value

    def string(self, value: Any, path: str, *, choices: tuple[str, ...] | None = None, limit: int = 4096) -> str:
        if not isinstance(value, str) or not value or len(value) > limit:
            raise self.fail(path, f"is {_kind(value)}, expected a non-empty string of at most {limit} characters")
        if choices is not None and value not in choices:
            raise self.fail(path, f"is {value[:40]!r}, expected one of {', '.join(choices)}")
        return value

    def integer(self, value: Any, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(path, f"is {_kind(value)}, expected an integer from {low} to {high:,}")
        return value

    def strings(self, value: Any, path: str, *, choices: tuple[str, ...] | None = None) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(path, f"is {_kind(value)}, expected a list of strings")
        return [self.string(item, f"{path}[{i}]", choices=choices) for i, item in enumerate(value)]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"[:60]
    if isinstance(value, str):
        return f"the string {value[:30]!r}" + ("..." if len(value) > 30 else "")
    return {"list": "a list", "dict": "an object"}.get(type(value).__name__, type(value).__name__)


def check_manifest(manifest: dict[str, Any], where: str) -> dict[str, Any]:
    """`manifest` if every field the runtime reads has its type and range, else a BundleError."""
    fields = _Fields(where)
    _check_files(fields, fields.object(manifest.get("files"), "files"))
    _check_task(fields, fields.object(manifest.get("task"), "task"))
    variants = fields.object(manifest.get("variants"), "variants")
    for name, entry in variants.items():
        fields.string(name, "variants (a name)", choices=tuple(VARIANTS))
        _check_variant(fields, fields.object(entry, f"variants.{name}"), f"variants.{name}")
    default = manifest.get("default_variant")
    if default is not None:
        fields.string(default, "default_variant", choices=tuple(variants) or ("(none: the bundle has no variant)",))
    if manifest.get("variant_preference") is not None:
        fields.strings(manifest["variant_preference"], "variant_preference", choices=tuple(VARIANTS))
    if manifest.get("weights") is not None:
        weights = fields.object(manifest["weights"], "weights")
        fields.string(weights.get("file"), "weights.file")
        fields.strings(weights.get("serves"), "weights.serves", choices=tuple(VARIANTS))
    if manifest.get("golden") is not None:
        fields.string(fields.object(manifest["golden"], "golden").get("file"), "golden.file")
    return manifest


def _check_files(fields: _Fields, files: dict[str, Any]) -> None:
    for name, record in files.items():
        path = f"files.{name[:60]}"
        record = fields.object(record, path)
        digest = record.get("sha256")
        if not isinstance(digest, str) or not SHA256.match(digest):
            raise fields.fail(f"{path}.sha256", f"is {_kind(digest)}, expected 64 lower-case hex digits")
        fields.integer(record.get("bytes"), f"{path}.bytes", 0, MAX_FILE_BYTES)


def _check_task(fields: _Fields, task: dict[str, Any]) -> None:
    labels = fields.strings(task.get("labels"), "task.labels")
    if len(labels) != 2 or labels[0] == labels[1]:
        raise fields.fail("task.labels", f"has {len(labels)} names {labels[:3]}, expected two different names")
    fields.integer(task.get("maxlen"), "task.maxlen", 1, MAX_MAXLEN)
    fields.integer(task.get("vocab_size"), "task.vocab_size", 3, MAX_VOCAB)


def _check_variant(fields: _Fields, entry: dict[str, Any], path: str) -> None:
    fields.string(entry.get("file"), f"{path}.file")
    fields.string(entry.get("format"), f"{path}.format", choices=FORMATS)
    fields.string(entry.get("status"), f"{path}.status", choices=STATUSES)
    for key in ("precision", "route"):
        if entry.get(key) is not None:
            fields.string(entry[key], f"{path}.{key}")
    if entry.get("reset_variables") is not None and not isinstance(entry["reset_variables"], bool):
        raise fields.fail(f"{path}.reset_variables", f"is {_kind(entry['reset_variables'])}, expected true or false")
    if entry.get("ops") is not None:
        _check_ops(fields, entry["ops"], f"{path}.ops")
    if entry.get("fast_path") is not None:
        fast = fields.object(entry["fast_path"], f"{path}.fast_path")
        inputs = fields.object(fast.get("inputs"), f"{path}.fast_path.inputs")
        for key in FAST_PATH_INPUTS:
            fields.string(inputs.get(key), f"{path}.fast_path.inputs.{key}")
        fields.string(fast.get("padding_states"), f"{path}.fast_path.padding_states")


def _check_ops(fields: _Fields, ops: Any, path: str) -> None:
    """TFLite: a list of op lists per subgraph; ONNX: a list of op names."""
    if not isinstance(ops, list):
        raise fields.fail(path, f"is {_kind(ops)}, expected a list")
    for i, item in enumerate(ops):
        if isinstance(item, list):
            fields.strings(item, f"{path}[{i}]")
        else:
            fields.string(item, f"{path}[{i}]")
