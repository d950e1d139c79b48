"""Carve a fixed, class-balanced report split out of labelled data, once, into two files.

    python -m edgelstm.train.splits --data ../shared/data/imdb/imdb_train.csv.gz --out out/imdb-splits

writes `develop.csv.gz` (everything else: train and tune on it, its own validation split
chooses the recipe) and `report.csv.gz` (score the finished model on it with
`edgelstm evaluate RUN --data .../report.csv.gz`, and never choose anything by it), plus
`splits.json` with the counts and sha256 of each. Being separate files, the report split
cannot leak into a training run by a changed seed or validation share.

The report split's seed is its own (`REPORT_SEED`), unrelated to any training seed.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from edgelstm.core.errors import ConfigError
from edgelstm.train.config import TrainConfig
from edgelstm.train.prepare import balanced_indices
from edgelstm.train.sources import Corpus, load_corpus

REPORT_SEED = 20261201
REPORT_SIZE = 5000
FILES = ("develop.csv.gz", "report.csv.gz")


def carve(corpus: Corpus, size: int, *, seed: int = REPORT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(develop indices, report indices): `size` class-balanced examples for the report, sorted."""
    if corpus.texts is None:
        raise ConfigError(f"{corpus.source} is already encoded: carve splits from raw texts (a CSV, JSONL or folder)")
    if not 2 <= size <= len(corpus) - 2:
        raise ConfigError(f"report size {size} must leave examples on both sides: accepted is 2..{len(corpus) - 2}")
    report = balanced_indices(corpus.labels, size, seed=seed)
    develop = np.setdiff1d(np.arange(len(corpus)), report)
    return develop, report


def write_csv(path: Path, corpus: Corpus) -> str:
    """text,label rows (label = the label's name); returns the file's sha256. gzip mtime 0: same data, same bytes."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        with io.TextIOWrapper(packed, encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            for text, label in zip(corpus.texts, corpus.labels):
                writer.writerow([text, corpus.label_names[int(label)]])
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_splits(data: str, out: Path, *, size: int = REPORT_SIZE, seed: int = REPORT_SEED,
                 text_column: str = "text", label_column: str = "label") -> dict:
    """Write develop/report files and splits.json into `out` (created); returns what splits.json holds."""
    corpus = load_corpus(TrainConfig(data=data, text_column=text_column, label_column=label_column))
    develop, report = carve(corpus, size, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"source": corpus.fingerprint(), "report_seed": seed}
    for name, indices in zip(FILES, (develop, report)):
        part = corpus.subset(indices)
        summary[name] = {"examples": len(part), "counts": part.fingerprint()["counts"],
                         "sha256": write_csv(out / name, part)}
    (out / "splits.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgelstm.train.splits", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="labelled CSV/JSONL file or pos/neg folder")
    parser.add_argument("--out", required=True, help="folder to write develop.csv.gz, report.csv.gz, splits.json")
    parser.add_argument("--size", type=int, default=REPORT_SIZE, help=f"report examples (default {REPORT_SIZE})")
    parser.add_argument("--seed", type=int, default=REPORT_SEED, help=f"report split seed (default {REPORT_SEED})")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    args = parser.parse_args(argv)
    summary = write_splits(args.data, Path(args.out), size=args.size, seed=args.seed,
                           text_column=args.text_column, label_column=args.label_column)
    print(json.dumps({name: summary[name] for name in FILES}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
