"""Run a page in headless Chromium through `drive.mjs` (playwright-core): for the tests and the bench.

Uses the system's Chromium (Debian's `chromium` package), never a browser downloaded by a
test tool, and the page served by `edgelstm.web.server` on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgelstm.core.errors import BackendUnavailableError
from edgelstm.web import npm
from edgelstm.web.server import PageServer

DRIVER = Path(__file__).resolve().parent / "drive.mjs"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Chromium's start, the wasm compile and a few hundred texts on a loaded 2-core machine.
DRIVE_TIMEOUT_S = 600


@dataclass(frozen=True)
class BrowserTools:
    chromium: Path
    node: Path
    playwright: Path  # playwright-core's index.mjs


def find_tools(packages: npm.NpmPackages | None = None) -> BrowserTools:
    """Chromium, node and playwright-core, or an error naming what is missing and how to install it."""
    chromium = os.environ.get("EDGELSTM_CHROMIUM") or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    if not chromium:
        raise BackendUnavailableError("no Chromium on PATH (chromium, chromium-browser, google-chrome): "
                                      "install it (Debian: apt-get install chromium) or set EDGELSTM_CHROMIUM")
    node = shutil.which("node")
    if not node:
        raise BackendUnavailableError("node is not on PATH: install Node.js (Debian: apt-get install nodejs npm)")
    packages = packages or npm.find_packages(install=False)
    playwright = packages.require(npm.PLAYWRIGHT) / "index.mjs"
    return BrowserTools(Path(chromium), Path(node), playwright)


def drive(page_dir: Path, texts: Sequence[str], *, clients: Sequence[str], tools: BrowserTools,
          encode: bool = False, screenshot: Path | None = None) -> dict[str, Any]:
    """Serve `page_dir` on 127.0.0.1, open it in headless Chromium, classify `texts` with each client.

    Returns drive.mjs's report (its header comment lists the fields) plus "url".
    """
    with PageServer(page_dir) as server:
        job = {"url": server.url, "playwright": str(tools.playwright), "chromium": str(tools.chromium),
               "texts": list(texts), "clients": list(clients), "encode": encode,
               "screenshot": str(screenshot) if screenshot else None}
        result = subprocess.run([str(tools.node), str(DRIVER)], input=json.dumps(job), capture_output=True,
                                text=True, timeout=DRIVE_TIMEOUT_S)
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"drive.mjs failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    report = json.loads(result.stdout)
    report["url"] = server.url
    return report
