"""The id arrays every worker times, prepared once in the parent process.

Tokenizing thousands of reviews is pure Python and would dominate a worker's
start-up, so the parent tokenizes once and hands the workers one .npz file.
Latency is timed on real-length inputs (texts from --data, or the bundle's
golden evaluation set) and, for comparability across bundles and machines,
on full-length inputs of exactly maxlen tokens.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.benchmarks.data import LabelledData, read_labelled
from edgelstm.benchmarks.protocol import TEXTS_FILE
from edgelstm.benchmarks.settings import LATENCY_INPUTS
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.tokenizer import (
    KERAS_INDEX_FROM,
    KERAS_OOV_ID,
    KERAS_START_ID,
    PADDING_ID,
    VOCAB_OOV_ID,
    Tokenizer,
    pad_ids,
)

# Fixed seed: two runs of the same settings time the same inputs.
SEED = 20240
# Ids below this are padding / markers in both tokenizer kinds; full-length inputs avoid them.
FIRST_WORD_ID = 3
# Real tokens of the short fixed-length inputs (a one-line review).
SHORT_TOKENS = 20


def sample_indices(n: int, limit: int) -> np.ndarray:
    """A fixed random subset (sorted) of `limit` rows out of `n`; all rows when limit is 0 or >= n.

    Random rather than the first rows: labelled files are often sorted by class.
    """
    if not limit or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(SEED).choice(n, size=limit, replace=False))


def full_length_ids(bundle: Bundle, count: int = 16) -> np.ndarray:
    """`count` sequences of exactly maxlen word ids: no padding at all."""
    tokenizer = bundle.tokenizer
    rng = np.random.default_rng(SEED)
    return rng.integers(FIRST_WORD_ID, tokenizer.vocab_size, size=(count, tokenizer.maxlen), dtype=np.int32)


def short_length_ids(bundle: Bundle, tokens: int = SHORT_TOKENS, count: int = 16) -> np.ndarray:
    """`count` texts of exactly `tokens` word ids, front-padded to maxlen as the tokenizer pads:
    beside the full-length inputs they show what skipping the padding saves."""
    tokenizer = bundle.tokenizer
    tokens = min(tokens, tokenizer.maxlen)
    rng = np.random.default_rng(SEED + 1)
    ids = np.full((count, tokenizer.maxlen), PADDING_ID, dtype=np.int32)
    ids[:, tokenizer.maxlen - tokens:] = rng.integers(FIRST_WORD_ID, tokenizer.vocab_size, size=(count, tokens))
    return ids


def _length_summary(lengths: np.ndarray) -> dict[str, Any]:
    return {"mean": float(lengths.mean()), "p50": float(np.median(lengths)),
            "min": int(lengths.min()), "max": int(lengths.max())}


def _data_ids(bundle: Bundle, data: LabelledData, keep: np.ndarray) -> np.ndarray:
    """Ids of the kept examples, exactly as the runtime would feed them."""
    tokenizer = bundle.tokenizer
    if data.texts is not None:
        return tokenizer.encode([data.texts[i] for i in keep])
    rows = [pad_ids(data.sequences[i], tokenizer.maxlen, padding=tokenizer.padding, truncating=tokenizer.truncating)
            for i in keep]
    return np.asarray(rows, dtype=np.int32).reshape(len(rows), tokenizer.maxlen)


def texts_of_ids(tokenizer: Tokenizer, ids: np.ndarray) -> list[str]:
    """Texts whose encoding is `ids`, row by row: the vocabulary's words joined by spaces, an
    out-of-vocabulary id as a word the tokenizer does not know. For the raw-text phases of a
    bundle benchmarked without --data (whose golden set holds ids, not texts); they are shorter
    to tokenize than real reviews (no punctuation, no markup), so --data measures an app better."""
    if tokenizer.kind == "vocab":
        known = set(tokenizer.words)
        unknown = next(word for word in (f"unknown{n}" for n in range(len(known) + 1)) if word not in known)
        words = {VOCAB_OOV_ID: unknown, **{i + 2: word for i, word in enumerate(tokenizer.words)}}
    else:
        by_id = sorted(tokenizer.word_index.items(), key=lambda item: item[1])
        words = {rank + KERAS_INDEX_FROM: word for word, rank in by_id if rank + KERAS_INDEX_FROM < tokenizer.vocab_size}
        rare = [word for word, rank in by_id if rank + KERAS_INDEX_FROM >= tokenizer.vocab_size]
        words[KERAS_START_ID] = ""  # the encoder puts it first by itself
        if rare:
            words[KERAS_OOV_ID] = rare[0]
    return [" ".join(words.get(int(i), "") for i in row if i != PADDING_ID).strip() for row in ids]


def write_texts(out_file: Path, texts: list[str], ids: np.ndarray, tokenizer: Tokenizer, source: str) -> dict[str, Any]:
    """The raw-text phases' texts beside the inputs file, and how many encode to exactly their ids."""
    same = float(np.mean((tokenizer.encode(texts) == ids).all(axis=1))) if len(texts) else 1.0
    (out_file.parent / TEXTS_FILE).write_text(json.dumps({"texts": texts}, ensure_ascii=False), encoding="utf-8")
    chars = np.asarray([len(text) for text in texts]) if texts else np.zeros(1)
    return {"source": source, "count": len(texts), "encode_to_latency_ids": same,
            "chars": {"mean": float(chars.mean()), "max": int(chars.max())}}


def _data_arrays(bundle: Bundle, source: str | Path,
                 max_examples: int) -> tuple[dict[str, np.ndarray], dict[str, Any], list[str] | None]:
    data = read_labelled(source, bundle.labels, vocab_size=bundle.tokenizer.vocab_size, maxlen=bundle.tokenizer.maxlen)
    keep = sample_indices(len(data.labels), max_examples)
    start = time.perf_counter()
    ids = _data_ids(bundle, data, keep)
    tokenize_s = time.perf_counter() - start
    # Padding id 0 is never a word, so counting non-zero ids gives the real lengths without re-tokenizing.
    lengths = (ids != PADDING_ID).sum(axis=1).astype(np.int32)
    arrays = {"data_ids": ids, "data_labels": np.asarray([data.labels[i] for i in keep], dtype=np.int8),
              "data_lengths": lengths}
    info = {"path": str(source), "source": data.source, "sha256": data.sha256,
            "rows": len(data.labels), "used": len(keep),
            "tokenize_ms_per_text": 1000.0 * tokenize_s / len(keep) if data.texts is not None and len(keep) else None}
    texts = [data.texts[i] for i in keep] if data.texts is not None else None
    return arrays, info, texts


def prepare_inputs(bundle: Bundle, out_file: Path, *, data: str | Path | None,
                   max_examples: int) -> dict[str, Any]:
    """Write the workers' inputs to `out_file` (.npz) and return their description for results.json."""
    golden = bundle.golden()
    arrays: dict[str, np.ndarray] = {"full_ids": full_length_ids(bundle), "short_ids": short_length_ids(bundle)}
    info: dict[str, Any] = {"maxlen": bundle.tokenizer.maxlen, "golden_count": int(len(golden["ids"])), "data": None}
    texts = None
    if data is not None:
        data_arrays, info["data"], texts = _data_arrays(bundle, data, max_examples)
        arrays.update(data_arrays)
        source, ids, lengths = "data", data_arrays["data_ids"], data_arrays["data_lengths"]
    else:
        source, ids, lengths = "golden", golden["ids"], golden["lengths"]
    pick = sample_indices(len(ids), LATENCY_INPUTS)
    arrays["latency_ids"] = np.ascontiguousarray(ids[pick], dtype=np.int32)
    if texts is not None:
        info["texts"] = write_texts(out_file, [texts[i] for i in pick], arrays["latency_ids"], bundle.tokenizer, "data")
    else:  # sequences already encoded (Keras imdb.npz) or no --data: words of the ids
        info["texts"] = write_texts(out_file, texts_of_ids(bundle.tokenizer, arrays["latency_ids"]),
                                    arrays["latency_ids"], bundle.tokenizer, f"{source} ids as words")
    info["latency"] = {"source": source, "count": len(pick), "lengths": _length_summary(np.asarray(lengths)[pick])}
    info["full_length"] = {"count": len(arrays["full_ids"]), "tokens": bundle.tokenizer.maxlen}
    info["short_length"] = {"count": len(arrays["short_ids"]), "tokens": min(SHORT_TOKENS, bundle.tokenizer.maxlen)}
    np.savez(out_file, **arrays)
    return info
