"""Tokenizer speed: today's encoder against the pre-rewrite one (tests/reference/tokenizer_v1.py).

    .venv/bin/python scripts/bench_tokenizer.py [--data ../shared/data/imdb/imdb_train_sample2500.csv.gz]
                                                [--out benchmarks/results/tokenizer] [--rounds 7]

Both encode every review of the file one text at a time (what `predict_proba([text])` does),
in alternating rounds so a shared machine's load hits both alike, on both clocks (wall and
this process's CPU time). Writes results.json and results.md to --out. The ids are compared
too: a speed-up that changed one id would be a bug, not a result.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "imdb" / "imdb_train_sample2500.csv.gz"


def old_module():
    spec = importlib.util.spec_from_file_location("tokenizer_v1", REPO / "tests" / "reference" / "tokenizer_v1.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def read_texts(path: Path) -> list[str]:
    csv.field_size_limit(16 * 1024 * 1024)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def time_pass(encode, texts: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of encoding every text alone."""
    wall, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        encode([text])
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "tokenizer")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from edgelstm.runtime.tokenizer import Tokenizer

    old = old_module()
    texts = read_texts(args.data)
    reference = old.Tokenizer.fit(texts, vocab_size=10000, maxlen=200)
    new = Tokenizer.from_dict(json.loads(json.dumps(reference.to_dict())))  # the same file, read by today's code
    import numpy as np

    same_ids = bool(np.array_equal(new.encode(texts), reference.encode(texts)))
    samples = {"old": [], "new": []}
    for _ in range(args.rounds):
        for name, tokenizer in (("old", reference), ("new", new)):
            samples[name].append(time_pass(tokenizer.encode, texts))
    per_text = {name: {"wall_us": 1e6 * statistics.median(w for w, _ in runs) / len(texts),
                       "cpu_us": 1e6 * statistics.median(c for _, c in runs) / len(texts)} for name, runs in samples.items()}
    results = {"kind": "edgelstm-tokenizer-bench", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "command": " ".join([Path(sys.executable).name, *sys.argv]), "data": str(args.data), "texts": len(texts),
               "rounds": args.rounds, "identical_ids": same_ids, "per_text": per_text,
               "speedup": {clock: per_text["old"][f"{clock}_us"] / per_text["new"][f"{clock}_us"] for clock in ("wall", "cpu")},
               "load_average": os.getloadavg(), "cores": os.cpu_count()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = [f"# Tokenizer: {len(texts)} reviews of {args.data.name}, one text per call", "",
             f"- command: `{results['command']}`", f"- created: {results['created']}; load average "
             f"{', '.join(f'{x:.1f}' for x in results['load_average'])} on {results['cores']} cores",
             f"- identical ids: {same_ids}", "", "| encoder | wall us/text | CPU us/text |", "| --- | --- | --- |"]
    lines += [f"| {name} | {v['wall_us']:.1f} | {v['cpu_us']:.1f} |" for name, v in per_text.items()]
    lines += [f"| speed-up | {results['speedup']['wall']:.2f}x | {results['speedup']['cpu']:.2f}x |", ""]
    (args.out / "results.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0 if same_ids else 1


if __name__ == "__main__":
    raise SystemExit(main())
