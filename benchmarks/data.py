"""Labelled texts for `bench --data`: whatever `edgelstm train --data` reads.

The training stage's reader (CSV/TSV/JSONL, optionally gzipped, class folders,
`synthetic`, its label rules) is used when it imports without TensorFlow, as it
does today. Should it ever need TensorFlow where TensorFlow is absent, a
minimal stdlib reader below takes over for CSV/TSV/JSONL files with a `text`
and a `label` field (0/1 or one of the bundle's label names).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Sequence

from edgelstm.runtime.bundle import sha256_of
from edgelstm.runtime.errors import DataError

TEXT_KEYS = ("text", "review", "sentence")
LABEL_KEYS = ("label", "sentiment")
# Reviews are long; the csv module's default field limit (128 KiB) is not always enough.
CSV_FIELD_LIMIT = 16 * 1024 * 1024


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _records(path: Path) -> Iterator[dict]:
    stem = path.name[:-3] if path.name.endswith(".gz") else path.name
    with _open_text(path) as handle:
        if stem.endswith((".jsonl", ".ndjson")):
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as error:
                        raise DataError(f"{path}:{number} is not valid JSON: {error}") from None
        elif stem.endswith((".csv", ".tsv")):
            csv.field_size_limit(CSV_FIELD_LIMIT)
            yield from csv.DictReader(handle, delimiter="\t" if stem.endswith(".tsv") else ",")
        else:
            raise DataError(f"cannot read {path}: accepted are .csv, .tsv, .jsonl, .ndjson, each optionally .gz")


def _field(record: dict, keys: tuple[str, ...], path: Path) -> object:
    for key in keys:
        if key in record:
            return record[key]
    raise DataError(f"{path}: a record lacks a {' / '.join(keys)} field; it has {', '.join(map(str, record)) or 'none'}")


def _label(value: object, names: list[str], path: Path) -> int:
    text = str(value).strip()
    if text in names:
        return names.index(text)
    if text in ("0", "1"):
        return int(text)
    raise DataError(f"{path}: label {value!r} is neither 0/1 nor one of the bundle's labels {names}")


@dataclass
class LabelledData:
    labels: list[int]  # 0/1, in the data's order
    texts: list[str] | None  # raw texts, or...
    sequences: list[list[int]] | None  # ...ids already encoded by the source (train's `imdb`)
    source: str
    sha256: str | None
    reader: str  # which reader read it: "edgelstm.train" or "minimal"


def read_labelled(data: str | Path, label_names: Sequence[str], *, vocab_size: int, maxlen: int) -> LabelledData:
    """The labelled examples of `data`, labels ordered like the bundle's `label_names`."""
    try:
        from edgelstm.train.config import TrainConfig
        from edgelstm.train.sources import load_corpus
    except ImportError:  # the training stage needs something absent here: read plain files ourselves
        texts, labels = read_minimal(data, list(label_names))
        return LabelledData(labels, texts, None, str(Path(data).resolve()), sha256_of(Path(data)), "minimal")
    config = TrainConfig(data=str(data), vocab_size=vocab_size, maxlen=maxlen)
    corpus = load_corpus(config, label_names=tuple(label_names))
    return LabelledData([int(x) for x in corpus.labels], corpus.texts, corpus.sequences, corpus.source,
                        corpus.file_sha256, "edgelstm.train")


def read_minimal(path: str | Path, label_names: list[str]) -> tuple[list[str], list[int]]:
    """Texts and 0/1 labels of a CSV/TSV/JSONL file (optionally .gz), in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--data {path}: no such file")
    texts, labels = [], []
    for record in _records(path):
        texts.append(str(_field(record, TEXT_KEYS, path)))
        labels.append(_label(_field(record, LABEL_KEYS, path), label_names, path))
    if not texts:
        raise DataError(f"--data {path} holds no records")
    return texts, labels
