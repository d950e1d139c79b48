"""Raw texts for a bundle's golden rows: the browser reads text, the bundle stores ids.

golden.npz holds the held-out rows as ids (and the edge cases as raw text). Joining the
words of a row's ids gives a text the tokenizer turns back into exactly those ids, so the
page, which tokenizes in the browser, can be checked against the stored Keras outputs.
"""

from __future__ import annotations

import numpy as np

from edgelstm.core.errors import BundleError
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.tokenizer import KERAS_INDEX_FROM, KERAS_OOV_ID, KERAS_START_ID, PADDING_ID, VOCAB_OOV_ID, Tokenizer

# Stands for an out-of-vocabulary id: no fitted vocabulary or Keras index holds it.
UNKNOWN_WORD = "qqzzxqunknown"


def texts_of_ids(tokenizer: Tokenizer, rows: np.ndarray) -> list[str]:
    """One text per id row that `tokenizer.encode` maps back to that row (padding dropped)."""
    if tokenizer.kind == "vocab":
        words = {i + 2: word for i, word in enumerate(tokenizer.words)}
        skip, unknown = {PADDING_ID}, {VOCAB_OOV_ID}
    else:
        words = {rank + KERAS_INDEX_FROM: word for word, rank in tokenizer.word_index.items()}
        # Keras drops words absent from its index; the OOV id comes from an indexed word past num_words.
        rare = [word for word, rank in tokenizer.word_index.items() if rank + KERAS_INDEX_FROM >= tokenizer.vocab_size]
        words[KERAS_OOV_ID] = rare[0] if rare else UNKNOWN_WORD
        skip, unknown = {PADDING_ID, KERAS_START_ID}, set()
    texts = []
    for row in np.asarray(rows):
        texts.append(" ".join(UNKNOWN_WORD if i in unknown else words[i] for i in row.tolist() if i not in skip))
    return texts


def golden_texts(bundle: Bundle) -> tuple[list[str], np.ndarray]:
    """The golden rows as raw text, in row order, and their Keras probabilities (float64: [n] for two
    labels, [n, C] for C >= 3).

    Raises BundleError when the texts do not tokenize back to the stored ids (a keras-imdb
    row whose rare word stands for the OOV id, say): a comparison on them would be wrong.
    """
    golden = bundle.golden()
    edge = golden["edge_case"].astype(bool)
    held_out = iter(texts_of_ids(bundle.tokenizer, golden["ids"][~edge]))
    edge_texts = iter(str(text) for text in golden["edge_texts"])
    texts = [next(edge_texts) if is_edge else next(held_out) for is_edge in edge]
    if not np.array_equal(bundle.tokenizer.encode(texts), golden["ids"]):
        raise BundleError(f"the golden ids of {bundle.root} cannot be written back as text that tokenizes to them")
    probs = golden["keras_probs"].astype(np.float64)
    return texts, probs.reshape(-1) if probs.ndim == 1 else probs
