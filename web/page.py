"""Write the static page of a bundle: `build_page(bundle, out)`.

The folder it writes (docs/contracts.md, "Web page") holds everything the page loads:

    index.html app.js tokenizer.js style.css   the page (from static/)
    edgelstm-web.json                          labels, threshold, and per client its files
    model-<mobile variant>.tflite              run by MediaPipe Tasks (@mediapipe/tasks-text)
    vendor/mediapipe/                          its ES module and wasm files, from npm
    model-onnx-fp32.onnx, tokenizer-web.json   optional: run by onnxruntime-web
    vendor/onnxruntime/                        its ES module and wasm file, from npm

Serve the folder from any static web server (a browser runs no wasm from file://):
`edgelstm web BUNDLE --out DIR --serve` does it on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgelstm.core import staging
from edgelstm.core.errors import BundleError, ConfigError
from edgelstm.core.outputs import LABEL_THRESHOLD
from edgelstm.core.variants import VARIANTS
from edgelstm.runtime.bundle import Bundle
from edgelstm.web import npm
from edgelstm.web.unicode_tables import tables

PAGE_CONFIG = "edgelstm-web.json"
PAGE_FORMAT_VERSION = 1
STATIC = Path(__file__).resolve().parent / "static"
MEDIAPIPE_CLIENT, ONNX_CLIENT = "mediapipe", "onnxruntime"
ONNX_VARIANT = "onnx-fp32"  # the float32 ONNX file: the one whose scores match Keras within 1e-4
# Files copied from each npm package: (path in the package, path in the page).
MEDIAPIPE_FILES = [("text_bundle.mjs", "vendor/mediapipe/text_bundle.mjs")] + [
    (f"wasm/{stem}.{ext}", f"vendor/mediapipe/wasm/{stem}.{ext}")
    for stem in ("text_wasm_internal", "text_wasm_nosimd_internal")  # MediaPipe picks by the browser's SIMD
    for ext in ("js", "wasm")]
ONNX_FILES = [(f"dist/{name}", f"vendor/onnxruntime/{name}")
              for name in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")]


@dataclass(frozen=True)
class PageClients:
    """Which model files the page runs: the MediaPipe model, the ONNX variant, or both."""

    mediapipe_variant: str | None
    onnx_variant: str | None


def build_page(bundle_dir: str | Path, out: str | Path, *, packages: npm.NpmPackages, force: bool = False,
               mediapipe_variant: str | None = None, onnx: bool = True,
               log: Callable[[str], None] = print) -> Path:
    """Write the page of `bundle_dir` into `out` (all at once or not at all); returns `out`."""
    bundle = Bundle.open(bundle_dir)
    clients = choose_clients(bundle, mediapipe_variant=mediapipe_variant, onnx=onnx, log=log)
    out = Path(out)
    with staging.staging(out, force=force, marker=PAGE_CONFIG, kind="page folder") as folder:
        for item in STATIC.iterdir():
            shutil.copy2(item, folder / item.name)
        config = {"format_version": PAGE_FORMAT_VERSION, "bundle": _bundle_summary(bundle),
                  "labels": bundle.labels, "threshold": LABEL_THRESHOLD,
                  "clients": {}, "third_party": {}}
        if clients.mediapipe_variant:
            config["clients"][MEDIAPIPE_CLIENT] = _mediapipe_client(bundle, clients.mediapipe_variant, packages, folder)
            config["third_party"][npm.MEDIAPIPE] = {"version": packages.version(npm.MEDIAPIPE), "license": "Apache-2.0"}
        if clients.onnx_variant:
            config["clients"][ONNX_CLIENT] = _onnx_client(bundle, clients.onnx_variant, packages, folder)
            config["third_party"][npm.ONNXRUNTIME] = {"version": packages.version(npm.ONNXRUNTIME), "license": "MIT"}
        (folder / PAGE_CONFIG).write_text(json.dumps(config, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    runs = ", ".join(f"{client} ({spec['file']})" for client, spec in config["clients"].items())
    log(f"wrote {out}: the page runs {runs}")
    return out


def mediapipe_variants(bundle: Bundle) -> list[str]:
    """The bundle's passed variants that MediaPipe Tasks' TextClassifier runs (the mobile ones), best first."""
    return [name for name in bundle.manifest.variant_preference
            if name in VARIANTS and VARIANTS[name].is_mobile]


def choose_clients(bundle: Bundle, *, mediapipe_variant: str | None, onnx: bool,
                   log: Callable[[str], None] = print) -> PageClients:
    available = mediapipe_variants(bundle)
    if mediapipe_variant is not None and mediapipe_variant not in available:
        raise ConfigError(f"--variant {mediapipe_variant!r} is not a passed MediaPipe variant of {bundle.root}: "
                          f"it has {', '.join(available) or 'none'}")
    chosen = mediapipe_variant or (available[0] if available else None)
    onnx_variant = ONNX_VARIANT if onnx and ONNX_VARIANT in bundle.variants and bundle.variant(ONNX_VARIANT).passed else None
    if chosen is None and onnx_variant is None:
        raise BundleError(f"{bundle.root} has no variant a browser runs: neither a MediaPipe variant "
                          f"nor a passed {ONNX_VARIANT}; re-export it with the [mediapipe] extra installed")
    if chosen is None:
        log(f"warning: {bundle.root} has no MediaPipe variant; the page runs {ONNX_VARIANT} only")
    return PageClients(chosen, onnx_variant)


def _bundle_summary(bundle: Bundle) -> dict[str, Any]:
    return {"name": bundle.root.resolve().name, "created": bundle.manifest.created,
            "validation_accuracy": bundle.manifest.source_run.validation_accuracy}


def _copy_package_files(package: Path, files: list[tuple[str, str]], folder: Path) -> None:
    for inside, target in files:
        source = package / inside
        if not source.is_file():
            raise ConfigError(f"{source} is missing: the npm package is not the pinned version "
                              f"({npm.pinned_versions()}); reinstall it with `npm ci` from {npm.LOCK_FILE}")
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, folder / target)


def _write_model(data: bytes, name: str, folder: Path) -> dict[str, Any]:
    (folder / name).write_bytes(data)
    return {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _mediapipe_client(bundle: Bundle, variant: str, packages: npm.NpmPackages, folder: Path) -> dict[str, Any]:
    _copy_package_files(packages.require(npm.MEDIAPIPE), MEDIAPIPE_FILES, folder)
    model = _write_model(bundle.read_checked(bundle.variant(variant).file), bundle.variant(variant).file, folder)
    return {"title": "MediaPipe Tasks", "variant": variant, **model,
            "module": "./vendor/mediapipe/text_bundle.mjs", "wasm": "./vendor/mediapipe/wasm"}


def _onnx_client(bundle: Bundle, variant: str, packages: npm.NpmPackages, folder: Path) -> dict[str, Any]:
    _copy_package_files(packages.require(npm.ONNXRUNTIME), ONNX_FILES, folder)
    entry = bundle.variant(variant).to_dict()
    model = _write_model(bundle.read_checked(entry["file"]), entry["file"], folder)
    inputs = (entry.get("fast_path") or {}).get("inputs") or {"ids": entry["inputs"][0]["name"]}
    tokenizer = {**bundle.tokenizer.to_dict(), "tables": tables()}
    (folder / "tokenizer-web.json").write_text(json.dumps(tokenizer, ensure_ascii=False, separators=(",", ":")),
                                               encoding="utf-8")
    # Every state input starts at zero (Keras' initial state: the page runs the padded way), each with
    # its own width, so a GRU (no c0) or a stack (h0_layer1, ...) is fed as the model declares it.
    states = [[spec["name"], spec["shape"][-1]] for spec in entry["inputs"] if spec["name"] != inputs["ids"]]
    return {"title": "ONNX Runtime Web", "variant": variant, **model, "inputs": inputs, "states": states,
            "output": entry["outputs"][0]["name"], "tokenizer": "./tokenizer-web.json",
            "module": "./vendor/onnxruntime/ort.wasm.min.mjs", "wasm": "./vendor/onnxruntime/"}
