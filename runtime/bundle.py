"""Read and check a bundle: the contract between export and runtime.

Layout and manifest fields are documented in docs/contracts.md. Everything a
device needs to trust a bundle happens here, in pure Python, before any native
interpreter parses a model file: with trusted keys, the manifest's signature
(runtime/signing.py) before the manifest is parsed; then the manifest's typed
records (`edgelstm.core.manifest`: the schema version is known, every field has
its type and range, the manifest lists every file the runtime reads), and each
file is read once, as a regular file of the folder (runtime/bundlefiles.py), and
parsed from exactly the bytes whose size and sha256 were checked.

`Bundle.open` checks the manifest and the tokenizer; the files of a variant are
checked when they are read (`read_checked`), so loading one variant reads only
its model and tables, and a damaged file of another variant does not stop it.
`check_files=True` (verify, bench, sign) checks every listed file at open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgelstm.core.errors import BundleError
from edgelstm.core.hashing import sha256_bytes
from edgelstm.core.manifest import (
    GOLDEN,
    MANIFEST,
    MODEL_CARD,
    SCHEMA_VERSION,
    STATUS_FAILED,
    STATUS_PASSED,
    TOKENIZER,
    WEIGHTS,
    FileRecord,
    Manifest,
    VariantEntry,
)
from edgelstm.runtime import bundlefiles, signing
from edgelstm.runtime.padding import PADDING_STATES, PaddingStates
from edgelstm.runtime.safeload import Expect, load_npz, parse_json
from edgelstm.runtime.tokenizer import Tokenizer

__all__ = ["GOLDEN", "MANIFEST", "MODEL_CARD", "SCHEMA_VERSION", "STATUS_FAILED", "STATUS_PASSED", "TOKENIZER",
           "WEIGHTS", "Bundle", "parse_manifest", "read_manifest", "read_manifest_bytes"]

# A manifest is small; refuse a huge one before parsing it.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# What verify reads from golden.npz and the NumPy backend from weights.npz: dtype kinds and ranks.
GOLDEN_ARRAYS: Expect = {"ids": ("iu", 2), "keras_probs": ("f", 1), "labels": ("iu", 1), "lengths": ("iu", 1),
                         "edge_case": ("b", 1), "edge_texts": ("U", 1)}
WEIGHT_ARRAYS: Expect = {"embedding": ("f", 2), "lstm_kernel": ("f", 2), "lstm_recurrent_kernel": ("f", 2),
                         "lstm_bias": ("f", 1), "dense_kernel": ("f", 2), "dense_bias": ("f", 1)}


@dataclass
class Bundle:
    """A bundle whose manifest (and signature, when keys are trusted) and tokenizer have been checked."""

    root: Path
    manifest: Manifest
    tokenizer: Tokenizer
    signed_by: str | None = None  # the key id that signed it, when trusted keys were given
    manifest_bytes: bytes = field(default=b"", repr=False)  # exactly what was parsed (and signed)

    @classmethod
    def open(cls, root: str | Path, *, check_files: bool = True,
             trusted_keys: Iterable[signing.KeySource] | signing.KeySource | None = None) -> Bundle:
        """Check and open the bundle at `root`.

        trusted_keys: Ed25519 public keys (PEM paths, PEM bytes or key objects). Given, the
            bundle must carry a signature by one of them over its manifest.json, checked
            before anything else of the bundle is parsed.
        check_files: check every listed file's size and sha256 now (else each is checked
            when read).
        """
        root = Path(root)
        keys = signing.trusted(trusted_keys)
        raw = read_manifest_bytes(root)
        signed_by = None
        if keys is not None:
            signature = bundlefiles.read_regular(root, signing.SIGNATURE, limit=signing.MAX_SIGNATURE_BYTES,
                                                 missing_ok=True)
            signed_by = signing.check_signature(raw, signature, keys, where=f"bundle {root}")
        manifest = parse_manifest(raw, root)
        bundle = cls(root=root, manifest=manifest, tokenizer=None, signed_by=signed_by,  # type: ignore[arg-type]
                     manifest_bytes=raw)
        if check_files:
            bundle.check_files()
        bundle.tokenizer = Tokenizer.from_json(bundle.read_checked(TOKENIZER), name=f"{TOKENIZER} of {root}")
        _check_tokenizer_fits(bundle)
        return bundle

    @property
    def variants(self) -> dict[str, VariantEntry]:
        return self.manifest.variants

    @property
    def labels(self) -> list[str]:
        return list(self.manifest.task.labels)

    @property
    def default_variant(self) -> str | None:
        return self.manifest.default_variant

    def variant(self, name: str) -> VariantEntry:
        if name not in self.variants:
            raise BundleError(f"bundle {self.root} has no variant {name!r}: it holds {', '.join(self.variants) or 'none'}")
        return self.variants[name]

    def path(self, name: str) -> Path:
        """Path of a listed file, for tools that inspect it; the runtime itself reads `read_checked`."""
        self._record(name)
        return self.root / name

    def check_files(self, names: Iterable[str] | None = None) -> None:
        """Check the size and sha256 of `names` (default: every listed file), streaming each."""
        for name in self.manifest.files if names is None else names:
            record = self._record(name)
            if bundlefiles.sha256_regular(self.root, name, record.bytes) != record.sha256:
                raise _sha_mismatch(name)

    def files_of(self, variant: str, *, numpy: bool = False) -> list[str]:
        """The files one variant needs to run: its model (weights.npz for numpy) and its tables."""
        entry = self.variant(variant)
        weights = self.manifest.weights
        if numpy and weights is None:
            raise BundleError(f"bundle {self.root} has no weights.npz: the numpy backend cannot run it")
        names = [weights.file if numpy and weights is not None else entry.file]
        table = entry.fast_path.padding_states if entry.fast_path is not None else None
        if numpy and PADDING_STATES in self.manifest.files:
            table = PADDING_STATES
        return names + ([table] if table else [])

    def _record(self, name: str) -> FileRecord:
        if name not in self.manifest.files:
            raise BundleError(f"bundle {self.root}: {name} is not listed in {MANIFEST}")
        return self.manifest.files[name]

    def read_checked(self, name: str) -> bytes:
        """A listed file's bytes, read once and checked against the manifest's size and sha256.

        Everything is parsed from these bytes, never from the path again, so what is used
        is exactly what was checked, even if the file changes on disk meanwhile.
        """
        record = self._record(name)
        data = bundlefiles.read_regular(self.root, name, limit=record.bytes)
        assert data is not None  # not missing_ok: a missing file raised
        if len(data) != record.bytes:
            raise BundleError(f"bundle file {name} has {len(data)} bytes, the manifest says {record.bytes}: "
                              "the file is truncated or was replaced; re-export the bundle")
        if sha256_bytes(data) != record.sha256:
            raise _sha_mismatch(name)
        return data

    def golden(self) -> dict[str, np.ndarray]:
        """golden.npz's arrays; keras_probs is [n] for two labels, [n, C] for C >= 3 (edgelstm.core.outputs)."""
        name = self.manifest.golden.file
        labels = len(self.labels)
        expect = {**GOLDEN_ARRAYS, "keras_probs": ("f", 1 if labels == 2 else 2)}
        arrays = load_npz(self.read_checked(name), f"{name} of {self.root}", expect=expect,
                          required=("ids", "keras_probs"))
        probs = arrays["keras_probs"]
        if probs.ndim == 2 and probs.shape[1] != labels:
            raise BundleError(f"{name} of {self.root}: keras_probs has {probs.shape[1]} columns but the manifest "
                              f"names {labels} labels: the bundle is inconsistent; re-export it")
        return arrays

    def padding_states(self, variant: str | None = None) -> PaddingStates | None:
        """The fast path's table (runtime/padding.py), checked as read; None when the bundle (or
        `variant`'s entry) has none: bundles made before the fast path run the padded way."""
        if variant is not None:
            fast = self.variant(variant).fast_path
            name = fast.padding_states if fast is not None else None
        else:
            name = PADDING_STATES if PADDING_STATES in self.manifest.files else None
        if not name:
            return None
        states = PaddingStates.load(self.read_checked(name))
        if states.maxlen != self.tokenizer.maxlen:
            raise BundleError(f"{name} holds states for {states.maxlen} padding steps but tokenizer.json pads to "
                              f"{self.tokenizer.maxlen}: the bundle is inconsistent; re-export it")
        units = self.manifest.source_run.lstm_units
        if units is not None and states.units != units:
            raise BundleError(f"{name} holds states of width {states.units} but the model has {units} LSTM "
                              "units: the bundle is inconsistent; re-export it")
        return states

    def weights(self) -> dict[str, np.ndarray]:
        if self.manifest.weights is None:
            raise BundleError(f"bundle {self.root} has no weights.npz (its manifest's weights is null)")
        name = self.manifest.weights.file
        return load_npz(self.read_checked(name), f"{name} of {self.root}", expect=WEIGHT_ARRAYS,
                        required=tuple(WEIGHT_ARRAYS))


def _sha_mismatch(name: str) -> BundleError:
    return BundleError(f"bundle file {name} does not match its sha256 in {MANIFEST}: the file is corrupted or "
                       "was tampered with (or changed since it was checked); re-export the bundle")


def _check_tokenizer_fits(bundle: Bundle) -> None:
    """The tokenizer's ids must index the model's embedding: ids past it fail in each backend
    differently (or wrap silently), so a mismatch is refused at open."""
    task, tokenizer = bundle.manifest.task, bundle.tokenizer
    if tokenizer.vocab_size != task.vocab_size or tokenizer.maxlen != task.maxlen:
        raise BundleError(f"{TOKENIZER} of {bundle.root} has vocab_size {tokenizer.vocab_size} and maxlen "
                          f"{tokenizer.maxlen}, the manifest's task says {task.vocab_size} and {task.maxlen}: "
                          "the bundle is inconsistent; re-export it")
    rows = bundle.manifest.source_run.embedding_rows
    if rows is not None and tokenizer.vocab_size > rows:
        raise BundleError(f"{TOKENIZER} of {bundle.root} gives ids up to {tokenizer.vocab_size - 1} but the model "
                          f"embeds {rows}: the bundle is inconsistent; re-export it")


def read_manifest_bytes(root: Path) -> bytes:
    """manifest.json's bytes, read once as a regular file of the folder (not yet parsed)."""
    if not root.is_dir():
        raise BundleError(f"no bundle at {root}: expected a folder holding {MANIFEST} (made by `edgelstm export`)")
    data = bundlefiles.read_regular(root, MANIFEST, limit=MAX_MANIFEST_BYTES, missing_ok=True)
    if data is None:
        raise BundleError(f"{root} is not a bundle: {MANIFEST} is missing")
    return data


def parse_manifest(data: bytes, root: Path) -> Manifest:
    """The manifest in `data` as typed records, every field checked (edgelstm.core.manifest)."""
    parsed = parse_json(data, str(root / MANIFEST))
    try:
        manifest = Manifest.from_dict(parsed)
    except BundleError as error:
        raise BundleError(f"{root}: {error}") from None
    for name in manifest.files:
        bundlefiles.check_name(root, name, MANIFEST)
    return manifest


def read_manifest(root: Path) -> Manifest:
    """Read and parse manifest.json (no signature check: `Bundle.open` does that with keys)."""
    return parse_manifest(read_manifest_bytes(root), root)
