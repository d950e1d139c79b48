"""Turn the Pi runs into the compatibility matrix (backend x variant) and the list of surprises.

A cell is what `edgelstm verify --json` said for that (variant, backend) pair on the Pi:
`ok` with its parity figures, `FAIL` with the bound or error, or a refusal by the runtime's
own rules (e.g. tflite-runtime 2.14 and the Keras 3 dynamic-int8 model). Each refusal was
also tried for real on the Pi (probe.py): a refusal the interpreter contradicts is a surprise.

`python scripts/pi/matrix.py out/pi/results.json` renders the Markdown again from a run's results.
"""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from edgelstm.core.variants import VARIANTS

# Rows in the variant table's order (core/variants.py).
VARIANT_ORDER: tuple[str, ...] = tuple(VARIANTS)
BACKEND_ORDER = ("litert", "tflite-runtime", "onnxruntime", "numpy")
INTERPRETER_DIST = {"litert": "ai-edge-litert", "tflite-runtime": "tflite-runtime", "onnxruntime": "onnxruntime",
                    "numpy": "numpy"}
LEGEND = ("`-`: not run there (a backend runs its format only; numpy runs the float32 variants from weights.npz, "
          "whatever their route). (padded), (fast): with every one of the maxlen steps, and with the leading "
          "padding skipped (the runtime's fast path). The first rows are the default export; then the "
          "same run's TFLite variants exported by their other route (`edgelstm export --route`); the rows "
          "marked `3 labels` are a second tiny run's default export, with a Dense(3, softmax) head (the "
          "topics corpus of tests/helpers/topics.py). `refused`: "
          "the runtime declines the pair before loading it; the pair was also run anyway on the Pi, and what it "
          "did is in brackets.")
FORBIDDEN_WHEELS = ("tensorflow", "tensorflow_cpu", "tensorboard", "keras", "tf_keras", "tf2onnx", "onnx-")


def read_junit(path: Path, returncode: int, stdout: str) -> dict[str, Any]:
    """Counts, failures and skip reasons of one pytest run from its JUnit XML."""
    summary: dict[str, Any] = {"returncode": returncode, "tail": stdout.strip().splitlines()[-1:]}
    if not path.exists():
        summary["error"] = f"pytest wrote no report (exit {returncode}): {' '.join(summary['tail'])}"
        return summary
    suite = ElementTree.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    failed, skipped = [], {}
    for case in suite.iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                message = (node.get("message") or tag).splitlines()[0][:200]
                failed.append(f"{name}: {message}")
        node = case.find("skipped")
        if node is not None:
            reason = (node.get("message") or "").strip()[:160]
            skipped[reason] = skipped.get(reason, 0) + 1
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return {**summary, **counts, "passed": passed, "failed": failed, "skip_reasons": skipped}


def one_line(result: dict[str, Any]) -> str:
    parts = []
    for bundle, verify in result["verify"].items():
        report = verify["report"]
        if report is None:
            parts.append(f"{bundle}: verify exit {verify['returncode']}: {_last_line(verify['stderr'])}")
            continue
        states = [c["status"] for c in report["checks"]]
        parts.append(f"{bundle}: {states.count('ok')} ok, {states.count('FAIL')} FAIL, "
                     f"{states.count('skipped')} refused")
    return f"verify {'; '.join(parts)}; pytest {_tests_text(result.get('pytest') or {})}"


def _tests_text(tests: dict[str, Any]) -> str:
    if tests.get("error"):
        return tests["error"]
    failed = tests.get("failures", 0) + tests.get("errors", 0)
    return f"{tests.get('passed')} passed, {failed} failed, {tests.get('skipped')} skipped"


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _short(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.1f}%".replace(".0%", "%")


def _cell(check: dict[str, Any], probe: dict[str, Any] | None) -> tuple[str, str]:
    """(state, text) of one verify check on the Pi."""
    parity = check.get("parity")
    if check["status"] == "ok":
        return "ok", (f"ok: max |dp| {_short(parity['max_abs_diff'])}, "
                      f"labels {_percent(parity['label_agreement'])} equal")
    if check["status"] == "FAIL":
        why = "; ".join(parity["failures"]) if parity and parity.get("failures") else check.get("note", "")
        return "fail", f"FAIL: {why}"
    text = f"refused: {check.get('note', '')}"
    if probe is not None:
        text += f" (run anyway: {_probe_text(probe)})"
    return "refused", text


def _probe_text(probe: dict[str, Any]) -> str:
    if probe.get("ran"):
        return "within bounds" if probe["passed"] else f"ran, out of bounds: {'; '.join(probe['failures'])}"
    error = probe.get("error", "no message")
    return f"fails with {error if len(error) <= 160 else error[:157] + '...'}"


def rows_of(manifests: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(bundle, variant) rows: the first bundle's variants in the usual order, then the others'."""
    rows = []
    for bundle, manifest in manifests.items():
        names = list(manifest.get("variants", {}))
        rows += [(bundle, v) for v in sorted(names, key=lambda v: (VARIANT_ORDER + (v,)).index(v))]
    return rows


def build(results: list[dict[str, Any]], *, manifests: dict[str, dict[str, Any]], wheels: list[str],
          tests_expected: bool) -> dict[str, Any]:
    """The matrix, per-option facts and every outcome that should make `make test-pi` fail."""
    rows = rows_of(manifests)
    cells: dict[str, dict[str, tuple[str, str]]] = {f"{b}/{v}": {} for b, v in rows}
    unexpected: list[str] = []
    forbidden = [w for w in wheels if w.lower().startswith(FORBIDDEN_WHEELS)]
    if forbidden:
        unexpected.append(f"the Pi's wheel set holds build-time packages: {', '.join(forbidden)}")
    options = {}
    for result in results:
        options[result["option"]] = _option_facts(result)
        unexpected += _option_surprises(result, tests_expected)
        for bundle, verify in result["verify"].items():
            checks = (verify["report"] or {}).get("checks", [])
            unexpected += _fill_cells(cells, bundle, manifests[bundle], result, checks)
    labels = {f"{b}/{v}": f"{v} ({manifests[b]['variants'][v].get('route', '?')}){_classes(manifests[b])}"
              for b, v in rows}
    return {"rows": [f"{b}/{v}" for b, v in rows], "labels": labels, "cells": cells, "options": options,
            "unexpected": unexpected, "bundle": _bundle_facts(next(iter(manifests.values()))),
            "date": time.strftime("%Y-%m-%d")}


def _classes(manifest: dict[str, Any]) -> str:
    """', 3 labels' for a C-class bundle's rows, '' for a binary one's (the rows read as before)."""
    count = len((manifest.get("task") or {}).get("labels") or ())
    return f", {count} labels" if count > 2 else ""


def _fill_cells(cells: dict, bundle: str, manifest: dict[str, Any], result: dict[str, Any],
                checks: list[dict[str, Any]]) -> list[str]:
    """One cell per variant on this result's backend; verify may check a pair twice (padded, fast path)."""
    backend, surprises = result["backend"], []
    grouped: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        if check["backend"] == backend and f"{bundle}/{check['variant']}" in cells:
            grouped.setdefault(check["variant"], []).append(check)
    for variant, group in grouped.items():
        probe = (result.get("probes") or {}).get(bundle, {}).get(variant)
        failed_at_export = manifest["variants"][variant].get("status") != "passed"
        where = f"{variant} ({bundle} bundle) on {backend}"
        states = []
        for check in group:
            state, text = _cell(check, probe)
            states.append((check.get("path", "padded"), state, text, check))
            path = f", {check['path']} path" if len(group) > 1 and check.get("path") else ""
            if state == "fail" and not failed_at_export:
                surprises.append(f"{where}{path}: {text}")
            elif state == "refused" and "not installed" in check.get("note", ""):
                surprises.append(f"{where}: {backend} should be installed in the {result['option']} venv: "
                                 f"{check['note']}")
            elif state == "refused" and probe is not None and probe.get("ran") and probe.get("passed"):
                surprises.append(f"{where}: the runtime refuses it ({check['note']}) but it runs within bounds: "
                                 "drop the rule")
        cells[f"{bundle}/{variant}"][backend] = _merge(states, failed_at_export)
    return surprises


def _merge(states: list[tuple[str, str, str, dict[str, Any]]], failed_at_export: bool) -> tuple[str, str]:
    """One cell from the checks of one pair: figures per path when both ran within bounds."""
    if all(state == "ok" for _, state, _, _ in states) and len(states) > 1:
        diffs = ", ".join(f"{_short(c['parity']['max_abs_diff'])} ({path})" for path, _, _, c in states)
        agree = min(c["parity"]["label_agreement"] for _, _, _, c in states)
        state, text = "ok", f"ok: max |dp| {diffs}, labels {_percent(agree)} equal"
    elif len(states) == 1:
        state, text = states[0][1], states[0][2]
    else:
        order = ("fail", "refused", "ok")
        state = min((s for _, s, _, _ in states), key=order.index)
        text = "; ".join(f"{path}: {t}" for path, _, t, _ in states)
    if failed_at_export:
        state = "fail-as-export" if state == "fail" else state
        text = f"{text} (failed at export)" if state != "fail-as-export" else f"{text} (as at export)"
    return state, text


def _option_facts(result: dict[str, Any]) -> dict[str, Any]:
    env = result.get("env") or {}
    libraries = env.get("libraries", {})
    return {"backend": result["backend"], "extra": result["extra"], "python": env.get("python"),
            "machine": env.get("machine"), "cpu": env.get("cpu"), "numpy": libraries.get("numpy"),
            "interpreter": libraries.get(INTERPRETER_DIST[result["backend"]]),
            "venv_mb": result.get("venv_mb"), "pytest": result.get("pytest")}


def _option_surprises(result: dict[str, Any], tests_expected: bool) -> list[str]:
    name, surprises = result["option"], []
    first = next(iter(result["verify"]), None)  # the default export, which must run
    for bundle, verify in result["verify"].items():
        if verify["report"] is None:
            surprises.append(f"{name}: `edgelstm verify --backend {result['backend']}` on the {bundle} bundle gave no "
                             f"report (exit {verify['returncode']}): {_last_line(verify['stderr'])}")
        elif bundle == first and not any(c["status"] == "ok" and c["backend"] == result["backend"]
                                         for c in verify["report"]["checks"]):
            surprises.append(f"{name}: no variant of the {bundle} bundle ran within bounds on {result['backend']}")
    tests = result.get("pytest") or {}
    if not tests_expected:
        return surprises
    if tests.get("error"):
        surprises.append(f"{name}: runtime tests: {tests['error']}")
    elif tests.get("failures") or tests.get("errors") or tests.get("returncode"):
        failed = tests.get("failed", [])
        shown = "; ".join(line[:300] for line in failed[:3]) or f"pytest exit {tests.get('returncode')}"
        shown += f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        surprises.append(f"{name}: runtime tests failed on the Pi: {shown}")
    elif not tests.get("passed"):
        surprises.append(f"{name}: runtime tests ran nothing on the Pi (all {tests.get('skipped')} skipped)")
    return surprises


def _bundle_facts(manifest: dict[str, Any]) -> str:
    config = (manifest.get("source_run") or {}).get("config") or {}
    keys = ("vocab_size", "maxlen", "embedding_dim", "lstm_units")
    shape = ", ".join(f"{k} {config[k]}" for k in keys if k in config)
    producer = manifest.get("producer") or {}
    return (f"tiny synthetic model ({shape or 'sizes not in manifest'}), exported on the host with "
            f"edgelstm {producer.get('edgelstm', '?')}")


def markdown(report: dict[str, Any]) -> str:
    options = report["options"]
    by_backend = {facts["backend"]: facts for facts in options.values()}
    any_facts = next(iter(options.values()), {})
    lines = ["# Raspberry Pi compatibility (64-bit Raspberry Pi OS, emulated)", "",
             f"Debian 12 bookworm arm64 (64-bit Raspberry Pi OS's base), Python {any_facts.get('python', '?')}, "
             "under qemu user-mode as a Cortex-A72 with a Raspberry Pi 4 Model B /proc/cpuinfo; "
             f"{report['bundle']}. "
             f"Written by `make test-pi` on {report['date']}. Emulation says nothing about speed.", ""]
    header = ["variant (route)"]
    for backend in BACKEND_ORDER:
        facts = by_backend.get(backend)
        if facts is None:
            continue
        version = facts.get("interpreter") or "?"
        label = f"{backend} {version}" if backend != "numpy" else f"numpy {version} (no interpreter)"
        if backend == "tflite-runtime":
            label += f", numpy {facts.get('numpy')}"
        header.append(label)
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for key in report["rows"]:
        row = [report["labels"][key]]
        for backend in BACKEND_ORDER:
            if backend in by_backend:
                row.append(report["cells"][key].get(backend, ("n/a", "-"))[1].replace("|", "\\|"))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", LEGEND, "",
              "| install on the Pi | venv size (aarch64, pytest not counted) | runtime unit tests |",
              "| --- | --- | --- |"]
    for facts in options.values():
        extra = (f"`pip install 'edgelstm[{facts['extra']}]'`" if facts["extra"]
                 else "`pip install edgelstm` (numpy only)")
        tests = facts.get("pytest") or {}
        tests_text = _tests_text(tests)
        size = f"{facts['venv_mb']:.0f} MB" if facts.get("venv_mb") else "?"
        lines.append(f"| {extra} | {size} | {tests_text} |")
    if report["unexpected"]:
        lines += ["", "Unexpected outcomes:", ""] + [f"- {line}" for line in report["unexpected"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    saved = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    rebuilt = build(saved["results"], manifests=saved["manifests"], wheels=saved["wheels"],
                    tests_expected=saved["tests_expected"])
    print(markdown(rebuilt), end="")
