"""Cold start of `edgelstm predict BUNDLE TEXT`, process start to printed label, as a user runs it.

    python -m edgelstm.benchmarks.cold_start BUNDLE --out DIR [--backends litert,onnxruntime]
           [--runs 7] [--edgelstm PATH] [--text "a quietly wonderful film"]

Each run is the real console script in a fresh process, timed the way `/usr/bin/time` times
it: the wall clock from spawn to exit, and the child's user and system CPU time from
its rusage (what `/usr/bin/time` prints). Backends take turns run by run, so a burst
of load on a shared machine hits them alike, and the machine's load average is recorded before
each run. One untimed run per backend first fills the page cache, as for any second run.

`--edgelstm` names the console script to time, e.g. a device venv's (`pip install
'WHEEL[litert,onnx]'`, no TensorFlow): that is what a user has, bytecode compiled at install.
The default is the `edgelstm` beside this Python. An editable checkout run with
PYTHONDONTWRITEBYTECODE=1 compiles every module of ours at each start, which no install does;
the record notes the variable.

Results: DIR/cold_start.json and DIR/cold_start.md. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from edgelstm.benchmarks.machine import machine_info

DEFAULT_TEXT = "a quietly wonderful film"
DEFAULT_BACKENDS = "litert,onnxruntime"


def default_entry() -> str:
    """The `edgelstm` console script of this Python's environment (else the one on PATH)."""
    beside = Path(sys.executable).with_name("edgelstm")
    if beside.is_file():
        return str(beside)
    found = shutil.which("edgelstm")
    if found is None:
        raise SystemExit("no edgelstm console script found: pass --edgelstm PATH")
    return found


def run_once(command: list[str]) -> dict[str, Any]:
    """One process: wall seconds, and its user and system CPU seconds (rusage, as /usr/bin/time)."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    wall = time.perf_counter() - started
    # The reaped children's totals grew by exactly this child's usage (one child at a time).
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {"wall_s": round(wall, 4), "user_s": round(user, 4), "sys_s": round(system, 4),
            "cpu_s": round(user + system, 4), "load_1min": round(load, 2),
            "output": done.stdout.decode(errors="replace").strip()}


def measure(entries: list[str], bundle: str, text: str, backends: list[str],
            runs: int) -> dict[str, list[dict[str, Any]]]:
    """Runs by row name: the backend, with the script's path when several scripts are compared."""
    commands = {(f"{backend} ({entry})" if len(entries) > 1 else backend): [entry, "predict", bundle, text,
                                                                         "--backend", backend]
                for entry in entries for backend in backends}
    for command in commands.values():
        run_once(command)  # untimed: the page cache, as for any run after the first
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
    for repeat in range(runs):
        for name, command in commands.items():
            result = run_once(command)
            results[name].append(result)
            print(f"run {repeat + 1} {name}: {result['wall_s']:.3f} s wall, {result['cpu_s']:.3f} s CPU "
                  f"(load {result['load_1min']:.1f})", file=sys.stderr, flush=True)
    return results


def summarize(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    summary = {}
    for backend, runs in results.items():
        row: dict[str, Any] = {"runs": len(runs)}
        for key in ("wall_s", "cpu_s"):
            values = [run[key] for run in runs]
            row[key] = {"min": min(values), "median": round(statistics.median(values), 4), "max": max(values)}
        loads = [run["load_1min"] for run in runs]
        row["load_1min"] = [min(loads), max(loads)]
        summary[backend] = row
    return summary


def markdown(summary: dict[str, dict[str, Any]], record: dict[str, Any]) -> str:
    lines = [f"# Cold start of `edgelstm predict`, `{record['bundle']}`", "",
             f"command: `{record['command']}`  ", f"timed: `{record['timed_command']}` (every script and BACKEND in turns), "
             f"{record['runs']} runs each after one untimed run; wall clock spawn to exit, CPU = user + sys "
             "of the child (rusage, what `/usr/bin/time` prints)  ",
             f"machine: {record['machine'].get('cpu', '?')}, {os.cpu_count()} logical cores; "
             f"PYTHONDONTWRITEBYTECODE={record['pythondontwritebytecode'] or 'unset'}", "",
             "| row | wall min | wall median | wall max | CPU min | CPU median | CPU max | load (1 min) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for backend, row in summary.items():
        wall, cpu = row["wall_s"], row["cpu_s"]
        lines.append(f"| {backend} | {wall['min']:.3f} s | {wall['median']:.3f} s | {wall['max']:.3f} s | "
                     f"{cpu['min']:.3f} s | {cpu['median']:.3f} s | {cpu['max']:.3f} s | "
                     f"{row['load_1min'][0]:.1f} to {row['load_1min'][1]:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--backends", default=DEFAULT_BACKENDS, help=f"comma list (default {DEFAULT_BACKENDS})")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per backend (default 7)")
    parser.add_argument("--edgelstm", action="append", metavar="PATH",
                        help="the console script to time (default: the edgelstm beside this Python); "
                             "repeat it to compare installs, run in turns")
    parser.add_argument("--text", default=DEFAULT_TEXT)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    entries = args.edgelstm or [default_entry()]
    backends = [name for name in args.backends.split(",") if name]
    results = measure(entries, args.bundle, args.text, backends, args.runs)
    record = {"bundle": args.bundle, "edgelstm": entries, "text": args.text, "runs": args.runs,
              "timed_command": f"{' | '.join(entries)} predict {args.bundle} {args.text!r} --backend BACKEND",
              "command": " ".join(["python -m edgelstm.benchmarks.cold_start", *(argv or sys.argv[1:])]),
              "pythondontwritebytecode": os.environ.get("PYTHONDONTWRITEBYTECODE"),
              "summary": summarize(results), "runs_by_backend": results, "machine": machine_info()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cold_start.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (args.out / "cold_start.md").write_text(markdown(record["summary"], record), encoding="utf-8")
    print(markdown(record["summary"], record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
