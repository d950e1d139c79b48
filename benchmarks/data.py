"""Labelled texts for `bench --data`: whatever `edgelstm train --data` reads, read by the training stage's reader.

That reader (CSV/TSV/JSONL, optionally gzipped, class folders, `synthetic`, its label
rules) imports no TensorFlow, so the harness uses it on a device install too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LabelledData:
    labels: list[int]  # 0/1, in the data's order
    texts: list[str] | None  # raw texts, or...
    sequences: list[list[int]] | None  # ...ids already encoded by the source (train's `imdb`)
    source: str
    sha256: str | None


def read_labelled(data: str | Path, label_names: Sequence[str], *, vocab_size: int, maxlen: int) -> LabelledData:
    """The labelled examples of `data`, labels ordered like the bundle's `label_names`."""
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.sources import load_corpus

    config = TrainConfig(data=str(data), vocab_size=vocab_size, maxlen=maxlen)
    corpus = load_corpus(config, label_names=tuple(label_names))
    return LabelledData([int(x) for x in corpus.labels], corpus.texts, corpus.sequences, corpus.source,
                        corpus.file_sha256)
