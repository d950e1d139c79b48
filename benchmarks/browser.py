"""The browser rows of `edgelstm bench`: the bundle's web page in headless Chromium.

One row per client of the page (MediaPipe Tasks, onnxruntime-web), raw text in, so the
JavaScript or MediaPipe tokenization is inside every timed call: per-text latency on the
golden texts and on full-length texts, the page's load time (navigation to ready) and
each client's load time, and parity of the browser's scores with the stored Keras outputs.
Rows are added only where Chromium, node and the npm packages are installed; otherwise a
note says what is missing.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from edgelstm.benchmarks.inputs import full_length_ids
from edgelstm.benchmarks.stats import summarize
from edgelstm.core.errors import EdgeLSTMError
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.parity import compare

BACKEND_PREFIX = "chromium"


def browser_rows(bundle: Bundle, notes: list[str], *, wanted: list[str]) -> list[dict[str, Any]]:
    """Measured rows (of the variants in `wanted`; empty: all), or [] and a note saying why there are none."""
    from edgelstm.web import npm
    from edgelstm.web.browser import drive, find_tools
    from edgelstm.web.page import PAGE_CONFIG, build_page
    from edgelstm.web.texts import golden_texts, texts_of_ids

    try:
        packages = npm.find_packages(install=False)
        tools = find_tools(packages)
        texts, keras = golden_texts(bundle)
    except EdgeLSTMError as error:
        notes.append(f"no browser rows: {error}")
        return []
    full = texts_of_ids(bundle.tokenizer, full_length_ids(bundle))
    with tempfile.TemporaryDirectory(prefix="edgelstm-bench-web-") as folder:
        try:
            page = build_page(bundle.root, Path(folder) / "page", packages=packages, log=lambda line: None)
        except EdgeLSTMError as error:
            notes.append(f"no browser rows: {error}")
            return []
        clients = {name: spec["variant"] for name, spec in
                   json.loads((page / PAGE_CONFIG).read_text())["clients"].items()
                   if not wanted or spec["variant"] in wanted}
        if not clients:
            notes.append(f"no browser rows: the page's variants are not among --variants {', '.join(wanted)}")
            return []
        report = drive(page, texts + full, clients=list(clients), tools=tools)
    if "error" in report:
        notes.append(f"browser rows failed: {report['error'].splitlines()[0]}")
        return []
    version = chromium_version(tools.chromium)
    return [_row(bundle, report, client, variant, keras, len(texts), version) for client, variant in clients.items()]


def _row(bundle: Bundle, report: dict[str, Any], client: str, variant: str, keras: Any, golden_count: int,
         chromium: str) -> dict[str, Any]:
    import numpy as np

    results = report["results"][client]
    golden, full = results[:golden_count], results[golden_count:]
    labels = bundle.golden()["labels"]
    # Two labels: the page's score is P(labels[1]); C labels: every label's probability, in label order.
    names = bundle.labels
    probs = (np.array([r["score"] for r in golden]) if len(names) == 2
             else np.array([[r["scores"][name] for name in names] for r in golden]))
    parity = compare(probs, keras, variant=variant, labels=labels)
    # The first call compiles and warms the wasm: reported as the first inference, left out of latency.
    return {"kind": "browser", "variant": variant, "backend": f"{BACKEND_PREFIX}/{client}", "status": "ok",
            "threads": 1,
            "latency": {"real": summarize([r["ms"] / 1000 for r in golden[1:]]),
                        "full": summarize([r["ms"] / 1000 for r in full])},
            "timings": {"load_s": report["ready"]["loadMs"][client] / 1000,
                        "first_inference_s": golden[0]["ms"] / 1000,
                        "cold_start_s": report["ready"]["readyMs"] / 1000},
            "parity": parity.to_dict(),
            "browser": {"chromium": chromium, "page_ready_ms": report["ready"]["readyMs"],
                        "tokenization": "in every timed call (raw text in)"}}


def chromium_version(chromium: Path) -> str:
    try:
        out = subprocess.run([str(chromium), "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.strip().splitlines()[-1] if out.strip() else "unknown"
