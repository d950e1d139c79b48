"""Every data source behind one call: `load_corpus(config) -> Corpus`.

Sources (`TrainConfig.data`):

* ``synthetic``: the built-in corpus (`edgelstm.train.synthetic`), `synthetic_size` reviews from `seed`.
* ``imdb``: Keras' IMDB train split, already encoded (`edgelstm.train.imdb`).
* a CSV file (``.csv``, ``.tsv``, optionally ``.gz``): `text_column` and `label_column`.
* a JSONL file (``.jsonl``/``.ndjson``, optionally ``.gz``): one object per line with the same keys.
* a folder: ``pos/`` and ``neg/`` subfolders of ``.txt`` files (aclImdb style; ``unsup/`` is
  ignored), or two or more subfolders of ``.txt`` files named after their labels (one per class).

Labels go through `edgelstm.train.labels`. Bytes are decoded strictly with `encoding`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core.errors import DataError
from edgelstm.core.hashing import sha256_of
from edgelstm.runtime.tokenizer import Tokenizer
from edgelstm.train import imdb, synthetic
from edgelstm.train import labels as label_rule
from edgelstm.train.config import TrainConfig

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")
ACCEPTED = ("'synthetic', 'imdb', a .csv/.tsv/.jsonl file (optionally .gz), or a folder with pos/ and neg/ "
            "subfolders of .txt files")
# Reviews can exceed csv's default 128 KiB field limit.
csv.field_size_limit(2**31 - 1)


@dataclass
class Corpus:
    """Labelled examples from one source: raw `texts`, or `sequences` already encoded by `tokenizer`."""

    labels: np.ndarray  # int8 [n], 0..C-1 (edgelstm.train.labels)
    label_names: tuple[str, ...]
    source: str
    texts: list[str] | None = None
    sequences: list[list[int]] | None = None
    tokenizer: Tokenizer | None = None  # set when the source fixes the encoding (imdb)
    file_sha256: str | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> Corpus:
        pick = [int(i) for i in indices]
        return Corpus(labels=self.labels[pick], label_names=self.label_names, source=self.source,
                      texts=[self.texts[i] for i in pick] if self.texts is not None else None,
                      sequences=[self.sequences[i] for i in pick] if self.sequences is not None else None,
                      tokenizer=self.tokenizer, file_sha256=self.file_sha256)

    def fingerprint(self) -> dict[str, Any]:
        """What was read: the source, counts per class, and a sha256 of the examples as loaded
        (texts or ids, with labels), so the same data gives the same hash whatever its packaging."""
        digest = hashlib.sha256()
        items = self.texts if self.texts is not None else self.sequences
        for item, label in zip(items, self.labels):
            payload = item if isinstance(item, str) else " ".join(map(str, item))
            digest.update(f"{int(label)}\t{payload}\n".encode())
        counts = {name: int(np.sum(self.labels == i)) for i, name in enumerate(self.label_names)}
        data = {"source": self.source, "examples": len(self), "counts": counts, "sha256": digest.hexdigest()}
        if self.file_sha256:
            data["file_sha256"] = self.file_sha256
        return data


def load_corpus(config: TrainConfig, *, label_names: tuple[str, ...] | None = None) -> Corpus:
    """Read `config.data`; `label_names` (else `config.label_names`) fixes the label order."""
    names = label_names or config.label_names
    if config.data == "synthetic":
        return _synthetic(config, names)
    if config.data == "imdb":
        return _imdb(config, names)
    path = Path(config.data)
    if not path.exists():
        raise DataError(f"data {config.data!r} does not exist: give {ACCEPTED}")
    if path.is_dir():
        return _folder(path, config, names)
    kind = _format_suffix(path)
    if kind in CSV_SUFFIXES:
        return _table(path, config, names, rows=_csv_rows(path, config, CSV_SUFFIXES[kind]))
    if kind in JSONL_SUFFIXES:
        return _table(path, config, names, rows=_jsonl_rows(path, config))
    raise DataError(f"cannot tell the format of {path} from its name: give {ACCEPTED}")


def load_texts(config: TrainConfig) -> list[str]:
    """The texts of `config.data`, labels not needed: the text column of a CSV/TSV or JSONL file, the
    .txt files of a folder `load_corpus` reads, or else a plain text file of one text per line (blank
    lines skipped)."""
    path = Path(config.data)
    if not path.exists():
        raise DataError(f"no such file: {config.data}")
    kind = _format_suffix(path)
    if path.is_dir():
        texts = _folder(path, config, None).texts or []
    elif kind in CSV_SUFFIXES:
        texts = [text for text, _, _ in _csv_rows(path, config, CSV_SUFFIXES[kind], labelled=False)]
    elif kind in JSONL_SUFFIXES:
        texts = [text for text, _, _ in _jsonl_rows(path, config, labelled=False)]
    else:
        texts = _lines(path, config.encoding)
    if not texts:
        raise DataError(f"{path} holds no text: give one text per line, or a CSV/JSONL file with a "
                        f"{config.text_column!r} column")
    return texts


def _lines(path: Path, encoding: str) -> list[str]:
    """The non-blank lines of a plain text file (gzip recognised), without their line ends."""
    lines, number = [], 0
    with _open_text(path, encoding) as handle:
        try:
            for line in handle:
                number += 1  # the line a decoding error is reported at
                if line.strip():
                    lines.append(line.rstrip("\r\n"))
        except UnicodeDecodeError as error:
            raise _decode_error(path, number + 1, error, encoding) from None
    return lines


def _format_suffix(path: Path) -> str:
    """'.csv' for data.csv and data.csv.gz."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _synthetic(config: TrainConfig, names: tuple[str, ...] | None) -> Corpus:
    examples = synthetic.generate(config.synthetic_size, seed=config.seed)
    return Corpus(labels=np.asarray([e.label for e in examples], dtype=np.int8),
                  label_names=names or synthetic.LABEL_NAMES,
                  source=f"synthetic(size={config.synthetic_size}, seed={config.seed})",
                  texts=[e.text for e in examples])


def _imdb(config: TrainConfig, names: tuple[str, ...] | None) -> Corpus:
    npz = imdb.resolve_npz(config.imdb_npz)
    sequences, raw = imdb.load_train_split(npz, num_words=config.vocab_size)
    index_path = imdb.resolve_word_index(config.imdb_word_index, npz)
    labels, label_names = label_rule.map_labels([label_rule.label_key(v, where=str(npz)) for v in raw.tolist()],
                                                names=names, source=str(npz))
    tokenizer = Tokenizer.from_keras_word_index(imdb.read_word_index(index_path), num_words=config.vocab_size,
                                                maxlen=config.maxlen)
    return Corpus(labels=labels, label_names=label_names, source=f"imdb:{npz.resolve()}", sequences=sequences,
                  tokenizer=tokenizer, file_sha256=sha256_of(npz))


def _table(path: Path, config: TrainConfig, names: tuple[str, ...] | None,
           rows: Iterator[tuple[str, Any, str]]) -> Corpus:
    """Texts and labels from (text, raw label, position) rows of a CSV or JSONL file."""
    texts, keys = [], []
    for text, raw_label, where in rows:
        texts.append(text)
        keys.append(label_rule.label_key(raw_label, where=where))
    labels, label_names = label_rule.map_labels(keys, names=names, source=str(path))
    return Corpus(labels=labels, label_names=label_names, source=str(path.resolve()), texts=texts,
                  file_sha256=sha256_of(path))


def _open_text(path: Path, encoding: str) -> io.TextIOBase:
    """Text handle; gzip is recognised by its magic bytes, whatever the name."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if gzipped else open(path, "rb")
    return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")


def _decode_error(path: Path, line: int, error: UnicodeDecodeError, encoding: str) -> DataError:
    return DataError(f"{path} is not valid {encoding} near line {line} ({error.reason}, byte "
                     f"{error.object[error.start:error.start + 1]!r}): save it as UTF-8 or pass --encoding")


def _columns(config: TrainConfig, labelled: bool) -> tuple[tuple[str, str], ...]:
    """(option, column) pairs every row must have: the text's and, for labelled data, the label's."""
    text = (("--text-column", config.text_column),)
    return (*text, ("--label-column", config.label_column)) if labelled else text


def _csv_rows(path: Path, config: TrainConfig, delimiter: str, *,
              labelled: bool = True) -> Iterator[tuple[str, Any, str]]:
    with _open_text(path, config.encoding) as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        try:
            header = reader.fieldnames or []
            for option, column in _columns(config, labelled):
                if column not in header:
                    raise DataError(f"{path} has no column {column!r} (columns: {', '.join(header) or 'none'}): "
                                    f"pass {option} NAME")
            for row in reader:
                where = f"{path} line {reader.line_num}"
                text, label = row.get(config.text_column), row.get(config.label_column)
                if text is None or (labelled and label is None):
                    raise DataError(f"{where} has fewer fields than the header: every row needs a text and a label")
                yield text, label, where
        except UnicodeDecodeError as error:
            raise _decode_error(path, reader.line_num + 1, error, config.encoding) from None
        except (csv.Error, EOFError, gzip.BadGzipFile) as error:
            raise DataError(f"{path} line {reader.line_num} is not readable CSV ({error})") from None


def _jsonl_rows(path: Path, config: TrainConfig, *, labelled: bool = True) -> Iterator[tuple[str, Any, str]]:
    with _open_text(path, config.encoding) as handle:
        number = 0
        try:
            for line in handle:
                number += 1  # the line a decoding error is reported at
                if line.strip():
                    yield _jsonl_example(line, f"{path} line {number}", config, labelled=labelled)
        except UnicodeDecodeError as error:
            raise _decode_error(path, number + 1, error, config.encoding) from None
        except (EOFError, gzip.BadGzipFile) as error:
            raise DataError(f"{path} is not readable ({error})") from None


def _jsonl_example(line: str, where: str, config: TrainConfig, *, labelled: bool = True) -> tuple[str, Any, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"{where} is not JSON ({error.msg}): a JSONL file has one JSON object per line") from None
    if not isinstance(record, dict):
        raise DataError(f"{where} is a JSON {type(record).__name__}, not an object with "
                        f"{config.text_column!r} and {config.label_column!r}")
    for option, key in _columns(config, labelled):
        if key not in record:
            raise DataError(f"{where} has no key {key!r} (keys: {', '.join(record) or 'none'}): pass {option} NAME")
    text = record[config.text_column]
    if not isinstance(text, str):
        raise DataError(f"{where}: {config.text_column!r} is {type(text).__name__}, not text")
    return text, record.get(config.label_column), where


def _class_folders(path: Path) -> list[Path]:
    if (path / "pos").is_dir() and (path / "neg").is_dir():
        return [path / "neg", path / "pos"]
    folders = sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob("*.txt")))
    if len(folders) < 2:
        found = ", ".join(p.name for p in folders) or "none"
        hint = " (for aclImdb, point at aclImdb/train)" if (path / "train").is_dir() else ""
        raise DataError(f"folder {path} needs pos/ and neg/ subfolders or two or more subfolders of .txt files "
                        f"(one per label), found {found}{hint}")
    return folders


def _folder(path: Path, config: TrainConfig, names: tuple[str, ...] | None) -> Corpus:
    texts, keys, digest = [], [], hashlib.sha256()
    for folder in _class_folders(path):
        for file in sorted(folder.glob("*.txt")):
            data = file.read_bytes()
            digest.update(f"{folder.name}/{file.name}\n".encode() + data)
            try:
                texts.append(data.decode(config.encoding))
            except UnicodeDecodeError as error:
                raise _decode_error(file, data[:error.start].count(b"\n") + 1, error, config.encoding) from None
            keys.append(label_rule.label_key(folder.name, where=str(folder)))
    labels, label_names = label_rule.map_labels(keys, names=names, source=str(path))
    return Corpus(labels=labels, label_names=label_names, source=str(path.resolve()), texts=texts,
                  file_sha256=digest.hexdigest())


