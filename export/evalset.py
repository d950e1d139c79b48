"""The evaluation set every variant is gated on, saved as the bundle's golden.npz.

Held-out rows of the run's validation split (never trained on), plus edge cases
written as raw text and encoded with the run's own tokenizer, so the device can
check its tokenizer against the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgelstm.core.rundir import RunDirectory
from edgelstm.export.defaults import DEFAULT_HELD_OUT
from edgelstm.runtime import textarrays
from edgelstm.runtime.tokenizer import KERAS_OOV_ID, KERAS_START_ID, VOCAB_OOV_ID, Tokenizer

NO_LABEL = -1
# How much longer than maxlen the long edge case is: far enough that truncation must happen.
LONG_FACTOR = 5
FULL_WIDTH_OFFSET = 0xFF01 - 0x21  # U+FF01..U+FF5E are the full-width forms of ASCII ! .. ~


@dataclass
class EvalSet:
    ids: np.ndarray  # int32 [n, maxlen]
    labels: np.ndarray  # int8 [n], NO_LABEL for edge cases
    lengths: np.ndarray  # int32 [n], real tokens after truncation
    edge_case: np.ndarray  # bool [n]
    edge_texts: np.ndarray  # str [k]: the raw text of each edge-case row, in row order
    edge_case_names: list[str]
    # The raw text of every row ("" where the run kept none: an ids-only source) and which rows have one.
    texts: list[str] = field(default_factory=list)
    has_text: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, path: Path, keras_probs: np.ndarray) -> None:
        np.savez_compressed(path, ids=self.ids, keras_probs=np.asarray(keras_probs, np.float32),
                            labels=self.labels, lengths=self.lengths, edge_case=self.edge_case,
                            edge_texts=self.edge_texts, has_text=self.has_text, **textarrays.pack(self.texts))


def build_eval_set(run: RunDirectory, *, held_out: int = DEFAULT_HELD_OUT) -> EvalSet:
    """`held_out` validation rows (all if fewer; a seeded sample, in file order) then the edge cases."""
    validation = run.validation
    total = len(validation["ids"])
    rows = np.arange(total)
    if held_out < total:  # the split may be ordered by class: sample, don't take the head
        rows = np.sort(np.random.default_rng(run.seed).choice(total, held_out, replace=False))
    cases = edge_case_texts(run.tokenizer)
    texts = list(cases.values())
    edge_ids = run.tokenizer.encode(texts)
    n_edge = len(texts)
    held_texts = textarrays.unpack(validation)
    held = [held_texts[row] for row in rows] if held_texts is not None else [""] * len(rows)
    return EvalSet(
        ids=np.concatenate([validation["ids"][rows].astype(np.int32), edge_ids]),
        labels=np.concatenate([validation["labels"][rows].astype(np.int8), np.full(n_edge, NO_LABEL, np.int8)]),
        lengths=np.concatenate([validation["lengths"][rows].astype(np.int32), run.tokenizer.lengths(texts)]),
        edge_case=np.concatenate([np.zeros(len(rows), bool), np.ones(n_edge, bool)]),
        edge_texts=np.array(texts, dtype=str),
        edge_case_names=list(cases),
        texts=held + texts,
        has_text=np.concatenate([np.full(len(rows), held_texts is not None), np.ones(n_edge, bool)]),
    )


def edge_case_texts(tokenizer: Tokenizer) -> dict[str, str]:
    """Texts at the borders of what the tokenizer and model see, by name."""
    empty_ids = len(tokenizer.tokens_to_ids(""))  # 1 for keras-imdb (its start marker), else 0
    words = known_words(tokenizer, LONG_FACTOR * tokenizer.maxlen)
    exact = " ".join(words[: tokenizer.maxlen - empty_ids])
    if len(tokenizer.tokens_to_ids(exact)) != tokenizer.maxlen:
        raise AssertionError("exact-maxlen edge case does not encode to maxlen ids")  # a tokenizer change broke it
    return {
        "empty": "",
        "only-unknown-words": " ".join(unknown_words(tokenizer, max(1, tokenizer.maxlen // 2))),
        "exactly-maxlen-tokens": exact,
        "far-longer-than-maxlen": " ".join(words),
        "markup-and-symbols": "<br /><br />!!! ??? ... (*_*) <br />",
        "case-and-width-forms": case_and_width_forms([w for w in words if len(w) >= 3][:4] or words[:4]),
    }


def case_and_width_forms(words: list[str]) -> str:
    """Known words upper-case, capitalized, in mixed case and in full-width letters.

    Our standardization (NFKC, case folding) maps all four back to the words; a client
    tokenizer without it (MediaPipe's RegexTokenizer) knows only the first two forms.
    """
    first, second, third, fourth = (words * 4)[:4]
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(third))
    wide = "".join(chr(ord(c) + FULL_WIDTH_OFFSET) if "!" <= c <= "~" else c for c in fourth)
    return f"{first.upper()} {second[:1].upper() + second[1:]} {mixed} {wide}"


def known_words(tokenizer: Tokenizer, count: int) -> list[str]:
    """`count` words that each encode to one in-vocabulary id, most frequent first, cycling."""
    if tokenizer.kind == "vocab":
        candidates = tokenizer.words
    else:  # keras-imdb: ranks below num_words - 3 map to real ids, the rest to OOV
        candidates = sorted(tokenizer.word_index, key=tokenizer.word_index.__getitem__)[: tokenizer.vocab_size]
    empty = tokenizer.tokens_to_ids("")
    usable = [w for w in candidates if len(ids := tokenizer.tokens_to_ids(w)) == len(empty) + 1
              and ids[-1] not in (VOCAB_OOV_ID if tokenizer.kind == "vocab" else KERAS_OOV_ID, 0)]
    if not usable:
        raise ValueError(f"tokenizer ({tokenizer.kind}, vocab_size {tokenizer.vocab_size}) has no in-vocabulary word")
    return [usable[i % len(usable)] for i in range(count)]


def unknown_words(tokenizer: Tokenizer, count: int) -> list[str]:
    """`count` made-up words the tokenizer maps to nothing but its out-of-vocabulary id (or drops)."""
    allowed = {VOCAB_OOV_ID} if tokenizer.kind == "vocab" else {KERAS_START_ID, KERAS_OOV_ID}
    words, serial = [], 0
    while len(words) < count:
        word = f"zqx{serial}vk"
        serial += 1
        if set(tokenizer.tokens_to_ids(word)) <= allowed:
            words.append(word)
    return words
