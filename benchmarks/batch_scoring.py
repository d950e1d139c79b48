"""Batch-scoring throughput: `edgelstm predict --input FILE` on 1 process, a pool, and Ray.

    python -m edgelstm.benchmarks.batch_scoring BUNDLE --out DIR [--texts 50000] [--workers 2]
           [--data ../shared/data/imdb/imdb_train.csv.gz] [--variant onnx-fp32] [--repeats 3]

Each configuration runs the real command line in a fresh process (start-up, bundle load,
reading the file, tokenization, the model, writing JSON lines: everything a user waits for),
one after another so no two share the CPU, `--repeats` times in turns. rows/s is texts
divided by that wall time; the best of the repeats is reported beside every repeat, with the
machine's load average before and after each, because this machine is shared. The pool's
and Ray's outputs are checked to be byte-identical to one process's.

The input file holds `--texts` reviews of the IMDB train split (its 25,000 texts repeated
in order to reach the count), or the built-in synthetic corpus with `--data synthetic`.
Results: DIR/batch_scoring.json and DIR/batch_scoring.md. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgelstm.benchmarks.machine import machine_info

DEFAULT_DATA = "../shared/data/imdb/imdb_train.csv.gz"


def imdb_texts(path: Path) -> Iterator[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            yield row["text"]


def synthetic_texts(count: int) -> list[str]:
    from edgelstm.train.synthetic import generate  # noqa: PLC0415 - only for --data synthetic

    return [example.text for example in generate(count, seed=0)]


def write_input(path: Path, data: str, count: int) -> None:
    """`count` JSON lines {"id", "text"}, cycling through the source's texts."""
    source = synthetic_texts(count) if data == "synthetic" else list(imdb_texts(Path(data)))
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            out.write(json.dumps({"id": index, "text": source[index % len(source)]}) + "\n")


def run_once(bundle: str, source: Path, output: Path, extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "edgelstm", "predict", bundle, "--input", str(source), "--json", *extra]
    load_before = os.getloadavg()
    started = time.perf_counter()
    with output.open("wb") as sink:
        done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return {"seconds": round(seconds, 3), "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()], "sha256": _sha256(output)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def configurations(workers: int, variant: str | None, engines: list[str]) -> dict[str, list[str]]:
    common = ["--variant", variant] if variant else []
    runs = {"1 process": common, f"pool of {workers}": [*common, "--workers", str(workers)]}
    if "ray" in engines:
        runs[f"ray, {workers} actors"] = [*common, "--workers", str(workers), "--engine", "ray"]
    return runs


def measure(args: argparse.Namespace, source: Path, out: Path) -> dict[str, Any]:
    runs = configurations(args.workers, args.variant, args.engines)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for repeat in range(args.repeats):
        for name, extra in runs.items():
            result = run_once(str(args.bundle), source, out / f"output-{len(results[name])}.jsonl", extra)
            results[name].append(result)
            print(f"repeat {repeat + 1} {name}: {args.texts / result['seconds']:,.0f} rows/s "
                  f"(load {result['load_before'][0]:.1f})", file=sys.stderr, flush=True)
    return results


def summarize(results: dict[str, list[dict[str, Any]]], texts: int) -> dict[str, Any]:
    reference = results["1 process"][0]["sha256"]
    summary = {}
    for name, repeats in results.items():
        best = min(r["seconds"] for r in repeats)
        summary[name] = {"best_rows_per_s": round(texts / best, 1),
                         "rows_per_s": [round(texts / r["seconds"], 1) for r in repeats],
                         "identical_to_one_process": all(r["sha256"] == reference for r in repeats)}
    base = summary["1 process"]["best_rows_per_s"]
    for row in summary.values():
        row["speedup"] = round(row["best_rows_per_s"] / base, 2)
    return summary


def markdown(summary: dict[str, Any], record: dict[str, Any]) -> str:
    lines = [f"# Batch scoring: {record['texts']:,} texts of {record['data']}, `{record['bundle']}`", "",
             f"command: `{record['command']}`  ", f"variant: {record['variant'] or 'the bundle default'}; "
             f"machine: {record['machine'].get('cpu', '?')}, {os.cpu_count()} logical cores, load average "
             f"{record['load_range'][0]:.1f} to {record['load_range'][1]:.1f} (1 min) during the runs", "",
             "| configuration | best rows/s | every repeat | speed-up | output identical to 1 process |",
             "| --- | --- | --- | --- | --- |"]
    for name, row in summary.items():
        repeats = ", ".join(f"{value:,.0f}" for value in row["rows_per_s"])
        lines.append(f"| {name} | {row['best_rows_per_s']:,.0f} | {repeats} | {row['speedup']:.2f}x | "
                     f"{'yes' if row['identical_to_one_process'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--texts", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"IMDB csv.gz (default {DEFAULT_DATA}) or 'synthetic'")
    parser.add_argument("--variant", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default="pool", help="comma list: pool (always), ray")
    args = parser.parse_args(argv)
    args.engines = args.engines.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    source = args.out / "input.jsonl"
    write_input(source, args.data, args.texts)
    results = measure(args, source, args.out)
    summary = summarize(results, args.texts)
    loads = [r[key][0] for runs in results.values() for r in runs for key in ("load_before", "load_after")]
    record = {"bundle": str(args.bundle), "texts": args.texts, "data": args.data, "variant": args.variant,
              "workers": args.workers, "repeats": args.repeats, "summary": summary, "runs": results,
              "load_range": [min(loads), max(loads)], "machine": machine_info(),
              "command": " ".join(["python -m edgelstm.benchmarks.batch_scoring", *(argv or sys.argv[1:])])}
    (args.out / "batch_scoring.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (args.out / "batch_scoring.md").write_text(markdown(summary, record), encoding="utf-8")
    for path in args.out.glob("output-*.jsonl"):
        path.unlink()
    source.unlink()
    print(markdown(summary, record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
