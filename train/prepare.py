"""From a Corpus to the arrays a run trains on: split, tokenize, pad, sample calibration data.

The split is stratified and seeded, so every class keeps its share in the validation
set and the same seed gives the same split. The tokenizer is fitted on the training
part only, so the validation accuracy is an honest estimate for unseen text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgelstm.core.errors import DataError
from edgelstm.runtime.tokenizer import Tokenizer, pad_ids
from edgelstm.train.config import TrainConfig
from edgelstm.train.sources import Corpus


@dataclass
class Encoded:
    """int32 ids [n, maxlen] padded at the front, int8 labels [n] (0..C-1), int32 real lengths [n]."""

    ids: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray
    texts: list[str] | None = None  # the raw texts, when the source has them (not keras-imdb ids)


@dataclass
class Prepared:
    train: Encoded
    validation: Encoded
    tokenizer: Tokenizer
    classes: int = 2  # how many labels the run has: two train a sigmoid head, more a softmax


def limit_corpus(corpus: Corpus, limit: int | None, *, seed: int) -> Corpus:
    """A class-balanced random sample of `limit` examples (the whole corpus when smaller)."""
    if limit is None or limit >= len(corpus):
        return corpus
    return corpus.subset(balanced_indices(corpus.labels, limit, seed=seed))


def balanced_indices(labels: np.ndarray, size: int, *, seed: int) -> np.ndarray:
    """Sorted indices of `size` random examples, an equal share of each class where the data allows
    (a class with fewer examples gives all it has, the others share what it leaves)."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in _classes(labels)]
    takes = _balanced_takes([len(members) for members in per_class], min(size, len(labels)))
    return np.sort(np.concatenate([members[:take] for members, take in zip(per_class, takes)]).astype(np.int64))


def _balanced_takes(available: list[int], size: int) -> list[int]:
    """How many of each class to take for `size` in all, as equal as the counts allow; the last
    classes take the remainder (two classes: label 1 gets the odd one, as it always did)."""
    takes, left, open_classes = [0] * len(available), size, list(range(len(available)))
    while left and open_classes:
        share, extra = divmod(left, len(open_classes))
        for rank, c in enumerate(list(open_classes)):
            grant = min(available[c] - takes[c], share + (rank >= len(open_classes) - extra))
            takes[c] += grant
            left -= grant
            if takes[c] == available[c]:
                open_classes.remove(c)
    return takes


def _classes(labels: np.ndarray) -> list[int]:
    """The label ids present, ascending (-1, a row without a label, is none)."""
    return [int(c) for c in np.unique(labels) if c >= 0]


def stratified_split(labels: np.ndarray, validation_split: float, *, seed: int,
                     classes: int | None = None, names: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices), each class split in the same proportion, both shuffled.

    `classes`: how many labels the run has (each needs examples on both sides); None: those present.
    `names`: the labels' names, so a class with too few examples is named as the user wrote it.
    """
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for label in range(classes) if classes is not None else _classes(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held = int(round(len(members) * validation_split))
        if held < 1 or held >= len(members):
            named = f"label {label} ({names[label]!r})" if label < len(names) else f"label {label}"
            raise DataError(f"{named} has {len(members)} examples: too few for a validation split of "
                            f"{validation_split} (each class needs one example on each side); add data or "
                            "change --validation-split")
        validation.append(members[:held])
        train.append(members[held:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(validation))


def encode(corpus: Corpus, tokenizer: Tokenizer) -> Encoded:
    """Pad/truncate at the front like the runtime does; ids come from the tokenizer or the source."""
    if corpus.sequences is not None:
        maxlen = tokenizer.maxlen
        ids = np.asarray([pad_ids(s, maxlen) for s in corpus.sequences], dtype=np.int32).reshape(-1, maxlen)
        lengths = np.asarray([min(len(s), maxlen) for s in corpus.sequences], dtype=np.int32)
    else:
        ids, lengths = tokenizer.encode(corpus.texts), tokenizer.lengths(corpus.texts)
    return Encoded(ids=ids, labels=corpus.labels.astype(np.int8), lengths=lengths, texts=corpus.texts)


def prepare(corpus: Corpus, config: TrainConfig) -> Prepared:
    """Split, fit the tokenizer on the training part (unless the source fixes it), encode both parts."""
    train_index, validation_index = stratified_split(corpus.labels, config.validation_split, seed=config.seed,
                                                     classes=len(corpus.label_names), names=corpus.label_names)
    train_part, validation_part = corpus.subset(train_index), corpus.subset(validation_index)
    tokenizer = corpus.tokenizer or Tokenizer.fit(train_part.texts, vocab_size=config.vocab_size, maxlen=config.maxlen)
    return Prepared(train=encode(train_part, tokenizer), validation=encode(validation_part, tokenizer),
                    tokenizer=tokenizer, classes=len(corpus.label_names))


def calibration_sample(train: Encoded, size: int, *, seed: int) -> Encoded:
    """Up to `size` training examples, half of each class where the data allows."""
    chosen = balanced_indices(train.labels, size, seed=seed)
    return Encoded(ids=train.ids[chosen], labels=train.labels[chosen], lengths=train.lengths[chosen])
