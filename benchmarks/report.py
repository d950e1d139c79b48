"""results.json and results.md: every figure, and the table a reader looks at first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgelstm.benchmarks.protocol import dumps
from edgelstm.core.errors import ConfigError

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
MB = 1024 * 1024

Row = dict[str, Any]


def write_results(results: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULTS_JSON
    path.write_text(dumps(results, indent=2) + "\n", encoding="utf-8")
    return path


def load_results(path: str | Path) -> dict[str, Any]:
    """A results.json written by `edgelstm bench`, or a clear error."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_JSON
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot read benchmark results {path}: {error}") from None
    if not isinstance(results, dict) or results.get("kind") != "edgelstm-bench":
        raise ConfigError(f"{path} is not a results.json written by `edgelstm bench`")
    return results


def fmt(value: Any, spec: str = ".3g", scale: float = 1.0) -> str:
    if value is None:
        return "-"
    return format(value * scale if scale != 1.0 else value, spec)


def ratio(value: float | None) -> str:
    """Speed-ups span 0.001 to 5000: three significant digits, never an exponent."""
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}" if value >= 0.001 else f"{value:.1e}"


def dig(row: Row, *keys: str) -> Any:
    for key in keys:
        if not isinstance(row, dict):
            return None
        row = row.get(key)
    return row


def row_label(row: Row) -> str:
    return f"{row['variant']} / {row['backend']}"


def table(headers: list[str], cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


# (header, cell of an ok row): the speed table and the start-up / size / quality table.
SPEED_COLUMNS: list[tuple[str, Callable[[Row], str]]] = [
    ("p50 ms", lambda r: fmt(dig(r, "latency", "real", "p50_ms"))),
    ("p90 ms", lambda r: fmt(dig(r, "latency", "real", "p90_ms"))),
    ("p99 ms", lambda r: fmt(dig(r, "latency", "real", "p99_ms"))),
    ("mean ms", lambda r: fmt(dig(r, "latency", "real", "mean_ms"))),
    ("min-max ms", lambda r: f"{fmt(dig(r, 'latency', 'real', 'min_ms'))}-{fmt(dig(r, 'latency', 'real', 'max_ms'))}"),
    ("runs", lambda r: fmt(dig(r, "latency", "real", "runs"), "d")),
    ("full-length p50 ms", lambda r: fmt(dig(r, "latency", "full", "p50_ms"))),
    ("20-token p50 ms", lambda r: fmt(dig(r, "latency", "short", "p50_ms"))),
    ("seq/s", lambda r: fmt(dig(r, "throughput", "sequences_per_s"), ".0f")),
    ("load after", lambda r: fmt((dig(r, "load_average", "after") or [None])[0], ".1f")),
    ("x model.predict", lambda r: ratio(dig(r, "speedup", "model.predict"))),
    ("x tf.function", lambda r: ratio(dig(r, "speedup", "tf.function"))),
]
def over_interpreter(row: Row, phase: str, figure: str = "p50_ms") -> str:
    """A batch-1 p50 as a multiple of the bare interpreter call's p50 on the same ids, same rounds."""
    ours, bare = dig(row, "latency", phase, figure), dig(row, "latency", "interpreter", figure)
    return f"{ours / bare:.2f}" if ours and bare else "-"


# Raw text in (the call an app makes) beside ids in and the interpreter alone, batch 1 and batch N.
TEXT_COLUMNS: list[tuple[str, Callable[[Row], str]]] = [
    ("interpreter p50 ms", lambda r: fmt(dig(r, "latency", "interpreter", "p50_ms"))),
    ("predict_ids p50 ms", lambda r: fmt(dig(r, "latency", "real", "p50_ms"))),
    ("predict_proba([text]) p50 ms", lambda r: fmt(dig(r, "latency", "text", "p50_ms"))),
    ("ids x interpreter", lambda r: over_interpreter(r, "real")),
    ("text x interpreter", lambda r: over_interpreter(r, "text")),
    ("text x interpreter, CPU", lambda r: over_interpreter(r, "text", "cpu_p50_ms")),
    ("texts/s (batch)", lambda r: fmt(dig(r, "text_throughput", "texts_per_s"), ".0f")),
    ("tokenize % of batch", lambda r: fmt(dig(r, "text_throughput", "tokenize_share"), ".1f", 100)),
    ("tokenize % of batch, CPU", lambda r: fmt(dig(r, "text_throughput", "tokenize_share_cpu"), ".1f", 100)),
]
SETUP_COLUMNS: list[tuple[str, Callable[[Row], str]]] = [
    ("file", lambda r: r.get("file") or "-"),
    ("MB", lambda r: fmt(r.get("bytes"), ".2f", 1 / MB)),
    ("x fp32", lambda r: fmt(r.get("size_ratio"), ".2f")),
    ("load ms", lambda r: fmt(dig(r, "timings", "load_s"), ".3g", 1000)),
    ("1st inference ms", lambda r: fmt(dig(r, "timings", "first_inference_s"), ".3g", 1000)),
    ("cold start s", lambda r: fmt(dig(r, "timings", "cold_start_s"), ".2f")),
    ("peak RSS MB", lambda r: fmt(dig(r, "memory", "peak_rss_mb"), ".0f")),
    ("max abs dp", lambda r: fmt(dig(r, "parity", "max_abs_diff"), ".1e")),
    ("agree %", lambda r: fmt(dig(r, "parity", "label_agreement"), ".2f", 100)),
    ("golden acc %", lambda r: fmt(dig(r, "parity", "accuracy"), ".2f")),
    ("data acc %", lambda r: fmt(dig(r, "accuracy", "accuracy"), ".2f")),
]


def rows_table(rows: list[Row], columns: list[tuple[str, Callable[[Row], str]]]) -> str:
    """One line per row; columns empty for every row (e.g. speed-ups without a Keras row) are left out."""
    ok = [row for row in rows if row.get("status") == "ok"]
    columns = [(header, cell) for header, cell in columns if any(cell(row) not in ("-", "--") for row in ok)]
    cells = []
    for row in rows:
        if row.get("status") == "ok":
            cells.append([row_label(row), str(row.get("threads") or "default")] + [cell(row) for _, cell in columns])
        else:
            cells.append([row_label(row), "-", f"error: {row.get('error')}"] + [""] * (len(columns) - 1))
    return table(["variant / backend", "threads"] + [header for header, _ in columns], cells)


def machine_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    load = m.get("load_average")
    return (f"{m.get('cpu')}, {m.get('cores')} logical cores ({m.get('machine')}), {m.get('platform')}, "
            f"Python {m.get('python')}" + (f"; load average {load[0]:.1f} (1 min) at the end" if load else ""))


def markdown(results: dict[str, Any], *, plots: list[str] = ()) -> str:
    """results.md: context, the two tables, notes and plots."""
    settings, inputs, libs = results["settings"], results["inputs"], results["machine"].get("libraries", {})
    latency_inputs = inputs["latency"]
    lines = [
        f"# Benchmark of {results['bundle']['path']}", "",
        f"- command: `{results['command']}`",
        f"- created: {results['created']} in {results['duration_s']:.0f} s; bundle manifest sha256 "
        f"`{results['bundle']['manifest_sha256'][:16]}`",
        f"- machine: {machine_line(results)}",
        "- libraries: " + ", ".join(f"{name} {version}" for name, version in libs.items()),
        f"- latency: batch 1 after {settings['warmup']} warm-up calls, at most {settings['runs']} runs or "
        f"{settings['seconds']:g} s per phase, on {latency_inputs['count']} {latency_inputs['source']} inputs "
        f"(mean {latency_inputs['lengths']['mean']:.0f} real tokens of {inputs['maxlen']}); full-length: "
        f"{inputs['maxlen']} tokens, no padding"
        + (f"; 20-token: {inputs['short_length']['tokens']} real tokens front-padded to {inputs['maxlen']}"
           if inputs.get("short_length") else ""),
        f"- throughput: batch {settings['batch_size']}; threads: {settings['threads'] or 'interpreter default'}",
        "", "## Speed", "", rows_table(results["rows"], SPEED_COLUMNS),
        "", "## Raw text in", "", text_intro(results), "", rows_table(text_rows(results["rows"]), TEXT_COLUMNS),
        "", "## Start-up, size, memory, quality", "", rows_table(results["rows"], SETUP_COLUMNS), "",
        f"Parity is on the bundle's {inputs['golden_count']} golden inputs against the Keras outputs it stores"
        + (f"; data accuracy on {inputs['data']['used']} texts of {inputs['data']['path']}" if inputs.get("data") else "")
        + ".",
    ]
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def text_rows(rows: list[Row]) -> list[Row]:
    """Rows with raw-text phases (bundle rows; the Keras model takes ids only)."""
    return [row for row in rows if row.get("status") != "ok" or dig(row, "latency", "text")]


def text_intro(results: dict[str, Any]) -> str:
    texts = results["inputs"].get("texts") or {}
    return (f"Batch 1, the three measured in interleaved rounds on the same {texts.get('count', '?')} inputs: the "
            f"backend's bare interpreter call (inputs prepared in advance), `predict_ids` on the ids, and "
            f"`predict_proba([text])` on texts that encode to those ids ({texts.get('source', '?')}, mean "
            f"{fmt(dig(texts, 'chars', 'mean'), '.0f')} characters), tokenization included. Batch "
            f"{results['settings']['batch_size']}: `predict_proba` of that many texts, and the tokenizer alone on "
            "the same batches (p50s). The CPU columns use this process's CPU clock instead of the wall clock: "
            "on a shared machine the wall clock also counts the time other processes had the core.")


def write_markdown(results: dict[str, Any], out: Path, *, plots: list[str] = ()) -> Path:
    path = out / RESULTS_MD
    path.write_text(markdown(results, plots=plots), encoding="utf-8")
    return path
