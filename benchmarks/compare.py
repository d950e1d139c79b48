"""`edgelstm bench compare A.json B.json ...`: runs side by side, as a table and a plot.

Runs of different bundles are refused by default (their manifest sha256
differ): a faster row may just be a different model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgelstm.benchmarks import plots
from edgelstm.benchmarks.report import dig, fmt, load_results, machine_line, table
from edgelstm.core.errors import ConfigError

COMPARE_MD = "compare.md"


def run_names(paths: list[Path]) -> list[str]:
    """Short names: the file stem, or its folder when every file is called results.json."""
    names = [p.stem if p.stem != "results" and not p.is_dir() else (p if p.is_dir() else p.parent).name for p in paths]
    return [name if names.count(name) == 1 else f"{name}#{i + 1}" for i, name in enumerate(names)]


def check_same_bundle(runs: list[dict[str, Any]], names: list[str], *, allow_different: bool) -> list[str]:
    """Refuse runs of different bundles unless allowed; return warnings when allowed."""
    digests = {name: run["bundle"]["manifest_sha256"] for run, name in zip(runs, names)}
    if len(set(digests.values())) <= 1:
        return []
    listing = ", ".join(f"{name}: {digest[:12]}" for name, digest in digests.items())
    if not allow_different:
        raise ConfigError(f"these runs measured different bundles (manifest sha256 {listing}); "
                          "pass --allow-different-bundles to compare them anyway")
    return [f"runs measured different bundles (manifest sha256 {listing})"]


def row_keys(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Every (variant, backend) measured by any run, in first-seen order."""
    keys: list[tuple[str, str]] = []
    for run in runs:
        for row in run["rows"]:
            key = (row["variant"], row["backend"])
            if key not in keys:
                keys.append(key)
    return keys


def _cells(run: dict[str, Any], key: tuple[str, str]) -> list[str]:
    row = next((r for r in run["rows"] if (r["variant"], r["backend"]) == key), None)
    if row is None:
        return ["-", "-", "-"]
    if row.get("status") != "ok":
        return ["error", "-", "-"]
    return [fmt(dig(row, "latency", "real", "p50_ms")), fmt(dig(row, "throughput", "sequences_per_s"), ".0f"),
            fmt(dig(row, "memory", "peak_rss_mb"), ".0f")]


def _p50(run: dict[str, Any], key: tuple[str, str]) -> float | None:
    row = next((r for r in run["rows"] if (r["variant"], r["backend"]) == key and r.get("status") == "ok"), None)
    return dig(row, "latency", "real", "p50_ms") if row else None


def compare_markdown(runs: list[dict[str, Any]], names: list[str], warnings: list[str]) -> str:
    headers = ["variant / backend"]
    for name in names:
        headers += [f"{name} p50 ms", f"{name} seq/s", f"{name} RSS MB"]
    headers += [f"p50 {name} / {names[0]}" for name in names[1:]]
    cells = []
    for key in row_keys(runs):
        line = [f"{key[0]} / {key[1]}"]
        for run in runs:
            line += _cells(run, key)
        first = _p50(runs[0], key)
        for run in runs[1:]:
            other = _p50(run, key)
            line.append(fmt(other / first, ".2f") if first and other is not None else "-")
        cells.append(line)
    runs_list = [f"- **{name}**: {run['created']}, {machine_line(run)}, threads {run['settings']['threads']}, "
                 f"batch {run['settings']['batch_size']}; `{run['command']}`" for run, name in zip(runs, names)]
    notes = [f"- warning: {w}" for w in warnings]
    return "\n".join(["# Benchmark comparison", ""] + runs_list + notes + ["", table(headers, cells)]) + "\n"


def compare(paths: list[str | Path], *, out: Path | None = None, allow_different_bundles: bool = False,
            make_plot: bool = True) -> tuple[str, list[Path], list[str]]:
    """(markdown table, files written, notes) for two or more results.json files."""
    if len(paths) < 2:
        raise ConfigError("compare needs at least two results.json files: edgelstm bench compare A.json B.json")
    paths = [Path(p) for p in paths]
    runs = [load_results(p) for p in paths]
    names = run_names(paths)
    warnings = check_same_bundle(runs, names, allow_different=allow_different_bundles)
    text = compare_markdown(runs, names, warnings)
    written, notes = [], []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if make_plot and plots.available():
            written.append(plots.compare_plot(runs, names, row_keys(runs), out / plots.COMPARE_PNG))
            text += f"\n![comparison]({plots.COMPARE_PNG})\n"
        elif make_plot:
            notes.append(plots.MISSING)
        (out / COMPARE_MD).write_text(text, encoding="utf-8")
        written.insert(0, out / COMPARE_MD)
    return text, written, notes
