"""From a Corpus to the arrays a run trains on: split, tokenize, pad, sample calibration data.

The split is stratified and seeded, so both classes keep their share in the validation
set and the same seed gives the same split. The tokenizer is fitted on the training
part only, so the validation accuracy is an honest estimate for unseen text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgelstm.core.errors import DataError
from edgelstm.runtime.tokenizer import Tokenizer, pad_ids
from edgelstm.train.config import TrainConfig
from edgelstm.train.sources import Corpus


@dataclass
class Encoded:
    """int32 ids [n, maxlen] padded at the front, int8 labels [n], int32 real lengths [n]."""

    ids: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray
    texts: list[str] | None = None  # the raw texts, when the source has them (not keras-imdb ids)


@dataclass
class Prepared:
    train: Encoded
    validation: Encoded
    tokenizer: Tokenizer


def limit_corpus(corpus: Corpus, limit: int | None, *, seed: int) -> Corpus:
    """A class-balanced random sample of `limit` examples (the whole corpus when smaller)."""
    if limit is None or limit >= len(corpus):
        return corpus
    return corpus.subset(balanced_indices(corpus.labels, limit, seed=seed))


def balanced_indices(labels: np.ndarray, size: int, *, seed: int) -> np.ndarray:
    """Sorted indices of `size` random examples, half of each class where the data allows."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in (0, 1)]
    take0 = min(len(per_class[0]), max(size // 2, size - len(per_class[1])))
    return np.sort(np.concatenate([per_class[0][:take0], per_class[1][:size - take0]]))


def stratified_split(labels: np.ndarray, validation_split: float, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices), each class split in the same proportion, both shuffled."""
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == label))
        held = int(round(len(members) * validation_split))
        if held < 1 or held >= len(members):
            raise DataError(f"class {label} has {len(members)} examples: too few for a validation split of "
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
    train_index, validation_index = stratified_split(corpus.labels, config.validation_split, seed=config.seed)
    train_part, validation_part = corpus.subset(train_index), corpus.subset(validation_index)
    tokenizer = corpus.tokenizer or Tokenizer.fit(train_part.texts, vocab_size=config.vocab_size, maxlen=config.maxlen)
    return Prepared(train=encode(train_part, tokenizer), validation=encode(validation_part, tokenizer),
                    tokenizer=tokenizer)


def calibration_sample(train: Encoded, size: int, *, seed: int) -> Encoded:
    """Up to `size` training examples, half of each class where the data allows."""
    chosen = balanced_indices(train.labels, size, seed=seed)
    return Encoded(ids=train.ids[chosen], labels=train.labels[chosen], lengths=train.lengths[chosen])
