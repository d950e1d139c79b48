"""The id arrays every worker times, prepared once in the parent process.

Tokenizing thousands of reviews is pure Python and would dominate a worker's
start-up, so the parent tokenizes once and hands the workers one .npz file.
Latency is timed on real-length inputs (texts from --data, or the bundle's
golden evaluation set) and, for comparability across bundles and machines,
on full-length inputs of exactly maxlen tokens.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.benchmarks.data import LabelledData, read_labelled
from edgelstm.benchmarks.settings import LATENCY_INPUTS
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.tokenizer import PADDING_ID, pad_ids

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


def _data_arrays(bundle: Bundle, source: str | Path, max_examples: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    data = read_labelled(source, bundle.labels, vocab_size=bundle.tokenizer.vocab_size, maxlen=bundle.tokenizer.maxlen)
    keep = sample_indices(len(data.labels), max_examples)
    start = time.perf_counter()
    ids = _data_ids(bundle, data, keep)
    tokenize_s = time.perf_counter() - start
    # Padding id 0 is never a word, so counting non-zero ids gives the real lengths without re-tokenizing.
    lengths = (ids != PADDING_ID).sum(axis=1).astype(np.int32)
    arrays = {"data_ids": ids, "data_labels": np.asarray([data.labels[i] for i in keep], dtype=np.int8),
              "data_lengths": lengths}
    info = {"path": str(source), "source": data.source, "sha256": data.sha256, "reader": data.reader,
            "rows": len(data.labels), "used": len(keep),
            "tokenize_ms_per_text": 1000.0 * tokenize_s / len(keep) if data.texts is not None and len(keep) else None}
    return arrays, info


def prepare_inputs(bundle: Bundle, out_file: Path, *, data: str | Path | None,
                   max_examples: int) -> dict[str, Any]:
    """Write the workers' inputs to `out_file` (.npz) and return their description for results.json."""
    golden = bundle.golden()
    arrays: dict[str, np.ndarray] = {"full_ids": full_length_ids(bundle), "short_ids": short_length_ids(bundle)}
    info: dict[str, Any] = {"maxlen": bundle.tokenizer.maxlen, "golden_count": int(len(golden["ids"])), "data": None}
    if data is not None:
        data_arrays, info["data"] = _data_arrays(bundle, data, max_examples)
        arrays.update(data_arrays)
        source, ids, lengths = "data", data_arrays["data_ids"], data_arrays["data_lengths"]
    else:
        source, ids, lengths = "golden", golden["ids"], golden["lengths"]
    pick = sample_indices(len(ids), LATENCY_INPUTS)
    arrays["latency_ids"] = np.ascontiguousarray(ids[pick], dtype=np.int32)
    info["latency"] = {"source": source, "count": len(pick), "lengths": _length_summary(np.asarray(lengths)[pick])}
    info["full_length"] = {"count": len(arrays["full_ids"]), "tokens": bundle.tokenizer.maxlen}
    info["short_length"] = {"count": len(arrays["short_ids"]), "tokens": min(SHORT_TOKENS, bundle.tokenizer.maxlen)}
    np.savez(out_file, **arrays)
    return info
