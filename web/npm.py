"""Where the page's npm packages come from: the pinned lock file beside this module.

The page needs files of two npm packages (`@mediapipe/tasks-text`, and
`onnxruntime-web` for the optional ONNX client); the tests and the bench also need
`playwright-core` to drive Chromium. Their versions are pinned in package.json and
package-lock.json here. A folder holding them is found, in this order:

1. the one the user names (`--npm-dir`): any folder with `node_modules/` inside, for
   machines without the registry (copy an installed `node_modules` there);
2. this package's own folder, where `make install` runs `npm ci` in a checkout;
3. a cache folder keyed by the lock file's hash (`$XDG_CACHE_HOME/edgelstm/npm/`),
   filled once by `npm ci` from the lock file when npm is on PATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgelstm.core.errors import ConfigError

HERE = Path(__file__).resolve().parent
PACKAGE_JSON = HERE / "package.json"
LOCK_FILE = HERE / "package-lock.json"
MEDIAPIPE = "@mediapipe/tasks-text"
ONNXRUNTIME = "onnxruntime-web"
PLAYWRIGHT = "playwright-core"
# npm ci of the three packages took 30 s here; a slow registry gets ten times that.
NPM_TIMEOUT_S = 600


@dataclass(frozen=True)
class NpmPackages:
    """A `node_modules` folder holding the pinned packages (some may be absent)."""

    node_modules: Path

    def package_dir(self, name: str) -> Path | None:
        folder = self.node_modules / name
        return folder if (folder / "package.json").is_file() else None

    def version(self, name: str) -> str | None:
        folder = self.package_dir(name)
        return json.loads((folder / "package.json").read_text())["version"] if folder else None

    def require(self, name: str) -> Path:
        folder = self.package_dir(name)
        if folder is None:
            raise ConfigError(f"npm package {name} is not in {self.node_modules}: install the pinned versions with "
                              f"`npm ci --prefix FOLDER` using {LOCK_FILE} and pass --npm-dir FOLDER")
        return folder


def pinned_versions() -> dict[str, str]:
    """{package: version} as package.json pins them."""
    return dict(json.loads(PACKAGE_JSON.read_text())["dependencies"])


def find_packages(npm_dir: str | Path | None = None, *, install: bool = True) -> NpmPackages:
    """The folder the module docstring describes; runs `npm ci` into the cache when allowed and needed."""
    if npm_dir is not None:
        return _named_folder(Path(npm_dir))
    for candidate in (HERE, cache_dir()):
        if (candidate / "node_modules" / MEDIAPIPE / "package.json").is_file():
            return NpmPackages(candidate / "node_modules")
    if not install:
        raise ConfigError(f"the npm packages are not installed: run `make install` in a checkout, or "
                          f"`npm ci --prefix {cache_dir()}` with {LOCK_FILE}, or pass --npm-dir FOLDER")
    return install_into(cache_dir())


def _named_folder(folder: Path) -> NpmPackages:
    node_modules = folder if folder.name == "node_modules" else folder / "node_modules"
    packages = NpmPackages(node_modules)
    packages.require(MEDIAPIPE)
    return packages


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()[:16]
    return base / "edgelstm" / "npm" / digest


def install_into(folder: Path) -> NpmPackages:
    """`npm ci` of the pinned lock file into `folder` (written beside it, then renamed)."""
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError(f"npm is not on PATH, so the page's packages ({MEDIAPIPE}, {ONNXRUNTIME}) cannot be "
                          "installed: install Node.js and npm, or pass --npm-dir FOLDER holding node_modules/")
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for source in (PACKAGE_JSON, LOCK_FILE):
        shutil.copy2(source, partial / source.name)
    # --omit=dev: the page needs no browser driver (playwright-core is for the tests and the bench).
    result = subprocess.run([npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--prefix", str(partial)],
                            capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ConfigError(f"`npm ci` of the page's packages failed ({last}): pass --npm-dir FOLDER holding node_modules/")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return NpmPackages(folder / "node_modules")
