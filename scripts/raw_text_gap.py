"""Where raw text's time goes beyond the interpreter's own call, batch 1 (issue 16).

    .venv/bin/python scripts/raw_text_gap.py BUNDLE [--variant onnx-dynint8] [--backend onnxruntime]
           [--data ../shared/data/imdb/imdb_train_sample2500.csv.gz] [--texts 100] [--runs 900]
           [--out benchmarks/results/raw-text-gap]

Times, in interleaved rounds on this process's CPU clock (a shared machine's load hits each
alike), on `--texts` reviews one per call:

- `interpreter`: the backend's bare call on ids prepared in advance (`Classifier.bare_call`);
- `tokenize`: `Tokenizer.kept_ids` of the text alone;
- `tokenize, then interpreter`: a new text tokenized before each call, as an app does;
- `same text, then interpreter`: always the first text tokenized, so the vocabulary entries it
  reads stay in cache;
- `4 MiB sweep, then interpreter` and the sweep alone: a write through 4 MiB of memory, which
  evicts the interpreter's data from the caches without any Python-object work;
- `predict_proba([text])`: the batch-1 lane, everything included.

"extra" is each pair's time beyond the sum of its parts: what running one just before the
other costs. Writes results.json and results.md to --out. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "imdb" / "imdb_train_sample2500.csv.gz"
SWEEP_BYTES = 4 << 20
CACHE_LINE = 64


def read_texts(path: Path, count: int) -> list[str]:
    csv.field_size_limit(16 * 1024 * 1024)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return [row["text"] for _, row in zip(range(count), csv.DictReader(handle))]


def measure(classifier, texts: list[str], runs: int) -> dict[str, float]:
    """CPU p50 in microseconds of each way (module docstring)."""
    from edgelstm.benchmarks.stats import interleaved_calls, summarize_interleaved

    n = len(texts)
    ids = classifier.encode(texts)
    bare = [classifier.bare_call(ids[i:i + 1]) for i in range(n)]
    kept_ids = classifier.tokenizer.kept_ids
    memory = bytearray(SWEEP_BYTES)
    ones = b"\x01" * (SWEEP_BYTES // CACHE_LINE)

    def sweep(_: int) -> None:
        memory[::CACHE_LINE] = ones  # one byte per cache line: every line of 4 MiB written

    calls = {
        "interpreter": lambda i: bare[i % n](),
        "tokenize": lambda i: kept_ids(texts[i % n]),
        "tokenize, then interpreter": lambda i: (kept_ids(texts[i % n]), bare[i % n]()),
        "same text, then interpreter": lambda i: (kept_ids(texts[0]), bare[i % n]()),
        "4 MiB sweep": sweep,
        "4 MiB sweep, then interpreter": lambda i: (sweep(i), bare[i % n]()),
        "predict_proba([text])": lambda i: classifier.predict_proba([texts[i % n]]),
    }
    timed = interleaved_calls(calls, warmup=30, runs=runs, seconds=30 * runs / 300, rounds=6)
    return {name: 1000.0 * summarize_interleaved(record)["cpu_p50_ms"] for name, record in timed.items()}


def decompose(us: dict[str, float]) -> dict[str, float]:
    base = us["interpreter"]
    return {
        "extra_after_new_text_us": us["tokenize, then interpreter"] - us["tokenize"] - base,
        "extra_after_same_text_us": us["same text, then interpreter"] - us["tokenize"] - base,
        "extra_after_sweep_us": us["4 MiB sweep, then interpreter"] - us["4 MiB sweep"] - base,
        "ours_beyond_tokenize_and_interpreter_us": us["predict_proba([text])"] - us["tokenize, then interpreter"],
        "text_x_interpreter": us["predict_proba([text])"] / base,
        "tokenize_then_interpreter_x_interpreter": us["tokenize, then interpreter"] / base,
    }


def markdown(record: dict) -> str:
    lines = [f"# Raw text beyond the interpreter: {record['variant']} on {record['backend']}", "",
             f"command: `{record['command']}`  ", f"{record['texts']} texts of {record['data']}, {record['runs']} "
             f"calls per way in 6 interleaved rounds, CPU clock p50; load average {record['load'][0]:.1f} "
             f"before, {record['load'][1]:.1f} after", "", "| way | CPU p50 us |", "| --- | ---: |"]
    lines += [f"| {name} | {value:.1f} |" for name, value in record["cpu_p50_us"].items()]
    lines += ["", "| derived | value |", "| --- | ---: |"]
    lines += [f"| {name} | {value:.3f} |" for name, value in record["derived"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--variant", default="onnx-dynint8")
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--runs", type=int, default=900)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "raw-text-gap")
    args = parser.parse_args(argv)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")  # as bench's workers: one thread per library
    from edgelstm.runtime.classifier import Classifier

    texts = read_texts(args.data, args.texts)
    load_before = os.getloadavg()[0]
    with Classifier.load(args.bundle, variant=args.variant, backend=args.backend) as classifier:
        us = measure(classifier, texts, args.runs)
    record = {"bundle": args.bundle, "variant": args.variant, "backend": args.backend, "data": str(args.data),
              "texts": len(texts), "runs": args.runs, "load": [load_before, os.getloadavg()[0]],
              "command": " ".join(["python scripts/raw_text_gap.py", *(argv or sys.argv[1:])]),
              "cpu_p50_us": us, "derived": decompose(us)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (args.out / "results.md").write_text(markdown(record), encoding="utf-8")
    print(markdown(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
