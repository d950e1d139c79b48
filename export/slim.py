"""A bundle holding only the chosen variants (`edgelstm slim`, whose options are in export/cli_slim.py).

The new bundle keeps the tokenizer, the golden set (so `verify` still runs on the device),
the chosen variants' models and the tables they use (padding_states.npz; weights.npz when
it serves one of them), each copied from bytes checked against the source manifest. Its
manifest is the source's with every other variant removed (files, variant_preference,
default_variant, weights.serves), plus `derived_from` naming the source manifest's sha256,
written as schema 2 whatever the source's schema; the model card is rendered again from it.
It is written like an export: all at once, or not at all.

A signature cannot carry over: it signed the source's manifest, and the slim bundle has a
new one. `--key` signs the result before it is put in place; without it a signed source
gives an unsigned slim bundle, and the command says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgelstm.core.errors import ConfigError
from edgelstm.core.hashing import sha256_bytes
from edgelstm.core.jsonio import write_json
from edgelstm.core.manifest import MANIFEST, MODEL_CARD, SCHEMA_VERSION, TOKENIZER, DerivedFrom, FileRecord, Manifest
from edgelstm.core.variants import parse_variants
from edgelstm.export import modelcard
from edgelstm.export.staging import staging
from edgelstm.runtime import signing
from edgelstm.runtime.bundle import Bundle


def slim_bundle(source: str | Path, out: str | Path, *, variants: list[str], force: bool = False,
                key: Any = None, log: Callable[[str], None] = print) -> Path:
    """Write the bundle `out` holding only `variants` of `source`; returns its path."""
    private = signing.load_private_key(key) if key is not None else None
    bundle = Bundle.open(source, check_files=False)
    kept = _kept(bundle, variants)
    manifest = slim_manifest(bundle, kept)
    target = Path(out)
    if target.resolve() == bundle.root.resolve():
        raise ConfigError(f"--out {target} is the source bundle: write the slim bundle to another folder")
    with staging(target, force=force) as folder:
        for name in manifest.files:
            if name != MODEL_CARD:
                (folder / name).write_bytes(bundle.read_checked(name))
        manifest = _write_manifest(folder, manifest)
        Bundle.open(folder, check_files=True)  # the new manifest checks out against what was written
        if private is not None:
            from edgelstm.runtime.cli_sign import sign_bundle

            sign_bundle(folder, private)
    _report(bundle, target, kept, manifest, signed=private is not None, log=log)
    return target


def _kept(bundle: Bundle, names: list[str]) -> list[str]:
    chosen = [spec.name for spec in parse_variants(names)]
    for name in chosen:
        bundle.variant(name)  # not in this bundle: an error listing what it holds
    return [name for name in bundle.variants if name in chosen]  # the source's order


def slim_manifest(bundle: Bundle, kept: list[str]) -> Manifest:
    """The source manifest with every variant but `kept` removed, and the files they need only."""
    source = bundle.manifest
    preference = tuple(name for name in source.variant_preference if name in kept)
    passed = [name for name in (*preference, *kept) if bundle.variant(name).passed]
    weights = source.weights
    serves = tuple(name for name in weights.serves if name in kept) if weights is not None else ()
    needed = {TOKENIZER, source.golden.file}
    for name in kept:
        needed.update(bundle.files_of(name))
        if name in serves:
            needed.update(bundle.files_of(name, numpy=True))
    return dataclasses.replace(
        source, schema_version=SCHEMA_VERSION, variants={name: source.variants[name] for name in kept}, rejected={},
        variant_preference=preference, default_variant=passed[0] if passed else None,
        weights=dataclasses.replace(weights, serves=serves) if weights is not None and serves else None,
        files={name: record for name, record in source.files.items() if name in needed},
        derived_from=DerivedFrom(manifest_sha256=sha256_bytes(bundle.manifest_bytes), variants=tuple(bundle.variants)))


def _write_manifest(folder: Path, manifest: Manifest) -> Manifest:
    """The model card, then the manifest listing it, checked as a reader will check it."""
    card = modelcard.render(manifest.to_dict(), {name: record.bytes for name, record in manifest.files.items()}).encode()
    (folder / MODEL_CARD).write_bytes(card)
    manifest = dataclasses.replace(manifest, files={**manifest.files,
                                                    MODEL_CARD: FileRecord(sha256_bytes(card), len(card))})
    checked = Manifest.from_dict(manifest.to_dict())
    write_json(folder / MANIFEST, checked.to_dict())
    return checked


def _report(source: Bundle, target: Path, kept: list[str], manifest: Manifest, *, signed: bool,
            log: Callable[[str], None]) -> None:
    size = sum(record.bytes for record in manifest.files.values())
    full = sum(record.bytes for record in source.manifest.files.values())
    log(f"wrote {target}: {', '.join(kept)} ({size / 1024:.1f} KiB of the source's {full / 1024:.1f} KiB); "
        f"default variant {manifest.default_variant}")
    if signed:
        log(f"signed {target}")
    elif (source.root / signing.SIGNATURE).exists():
        log(f"note: {source.root} is signed but {target} is not (it has a new manifest): "
            f"sign it with `edgelstm sign {target} --key NAME.key`")
