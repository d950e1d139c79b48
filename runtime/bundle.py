"""Read and check a bundle: the contract between export and runtime.

Layout and manifest fields are documented in docs/contracts.md. Everything a
device needs to trust a bundle happens here, in pure Python, before any native
interpreter parses a model file: the schema version is known, the manifest
lists every file, and every file's size and sha256 match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.runtime.errors import BundleError
from edgelstm.runtime.padding import PADDING_STATES, PaddingStates
from edgelstm.runtime.tokenizer import Tokenizer
from edgelstm.runtime.variants import VARIANTS

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
GOLDEN = "golden.npz"
WEIGHTS = "weights.npz"
MODEL_CARD = "README.md"
STATUS_PASSED, STATUS_FAILED = "passed", "failed"
# A manifest is small; refuse a huge one before parsing it.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_HASH_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Bundle:
    """A bundle whose manifest and files have been checked."""

    root: Path
    manifest: dict[str, Any]
    tokenizer: Tokenizer

    @classmethod
    def open(cls, root: str | Path, *, check_files: bool = True) -> "Bundle":
        root = Path(root)
        manifest = read_manifest(root)
        if check_files:
            for name in manifest["files"]:
                check_file(root, manifest, name)
        tokenizer = Tokenizer.load(root / TOKENIZER)
        return cls(root=root, manifest=manifest, tokenizer=tokenizer)

    @property
    def variants(self) -> dict[str, dict[str, Any]]:
        return self.manifest["variants"]

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["task"]["labels"])

    @property
    def default_variant(self) -> str | None:
        return self.manifest.get("default_variant")

    def variant(self, name: str) -> dict[str, Any]:
        if name not in self.variants:
            raise BundleError(f"bundle {self.root} has no variant {name!r}: it holds {', '.join(self.variants) or 'none'}")
        return self.variants[name]

    def path(self, name: str) -> Path:
        """Path of a file listed in the manifest (checked at open)."""
        if name not in self.manifest["files"]:
            raise BundleError(f"bundle {self.root}: {name} is not listed in {MANIFEST}")
        return self.root / name

    def read_checked(self, name: str) -> bytes:
        """A listed file's bytes, checked against the manifest's size and sha256 as read.

        Interpreters are handed these bytes, not the path, so what they parse is
        exactly what was checked, even if the file changes on disk after `open`.
        """
        path = self.path(name)
        record = self.manifest["files"][name]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise BundleError(f"cannot read bundle file {name}: {error}") from None
        if len(data) != record.get("bytes") or hashlib.sha256(data).hexdigest() != record.get("sha256"):
            raise BundleError(f"bundle file {name} changed since it was checked: it no longer matches its "
                              f"size and sha256 in {MANIFEST}; re-export the bundle")
        return data

    def golden(self) -> dict[str, np.ndarray]:
        with np.load(self.path(GOLDEN), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}

    def padding_states(self, variant: str | None = None) -> PaddingStates | None:
        """The fast path's table (runtime/padding.py), checked as read; None when the bundle (or
        `variant`'s entry) has none: bundles made before the fast path run the padded way."""
        if variant is not None:
            name = (self.variant(variant).get("fast_path") or {}).get("padding_states")
        else:
            name = PADDING_STATES if PADDING_STATES in self.manifest["files"] else None
        if not name:
            return None
        states = PaddingStates.load(self.read_checked(name))
        if states.maxlen != self.tokenizer.maxlen:
            raise BundleError(f"{name} holds states for {states.maxlen} padding steps but tokenizer.json pads to "
                              f"{self.tokenizer.maxlen}: the bundle is inconsistent; re-export it")
        return states

    def weights(self) -> dict[str, np.ndarray]:
        with np.load(self.path(WEIGHTS), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}


def read_manifest(root: Path) -> dict[str, Any]:
    """Parse and structurally check manifest.json; refuse unknown schema versions."""
    path = root / MANIFEST
    if not root.is_dir():
        raise BundleError(f"no bundle at {root}: expected a folder holding {MANIFEST} (made by `edgelstm export`)")
    if not path.is_file():
        raise BundleError(f"{root} is not a bundle: {MANIFEST} is missing")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{path} is larger than {MAX_MANIFEST_BYTES} bytes: not an edgelstm manifest")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{path} is not valid JSON ({error}): the bundle is corrupted") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{path} does not hold a JSON object: the bundle is corrupted")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BundleError(f"{path} has schema_version {version!r}; this edgelstm reads schema_version "
                          f"{SCHEMA_VERSION}: re-export the bundle or install the matching edgelstm")
    for key in ("files", "variants", "task"):
        if not isinstance(manifest.get(key), dict):
            raise BundleError(f"{path} lacks the object {key!r}: the bundle is corrupted")
    _check_variant_entries(manifest, path)
    return manifest


def _check_variant_entries(manifest: dict[str, Any], path: Path) -> None:
    for name, entry in manifest["variants"].items():
        if name not in VARIANTS:
            raise BundleError(f"{path} names an unknown variant {name!r}: known are {', '.join(VARIANTS)}")
        if entry.get("file") not in manifest["files"]:
            raise BundleError(f"{path}: variant {name} points at {entry.get('file')!r}, which is not listed with a checksum")


def check_file(root: Path, manifest: dict[str, Any], name: str) -> Path:
    """Refuse a file that is missing, outside the bundle, or whose size or sha256 differ."""
    record = manifest["files"][name]
    path = root / name
    if Path(name).name != name:
        raise BundleError(f"{root / MANIFEST} lists {name!r}, which is not a plain file name in the bundle")
    if not path.is_file():
        raise BundleError(f"bundle {root} is incomplete: {name} is missing")
    size = path.stat().st_size
    if size != record.get("bytes"):
        raise BundleError(f"bundle file {name} has {size} bytes, the manifest says {record.get('bytes')}: "
                          "the file is truncated or was replaced; re-export the bundle")
    if sha256_of(path) != record.get("sha256"):
        raise BundleError(f"bundle file {name} does not match its sha256 in {MANIFEST}: "
                          "the file is corrupted or was tampered with; re-export the bundle")
    return path
