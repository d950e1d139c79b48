"""A stand-in mobile variant for the browser test until export writes the real one (issue 10 §2).

Built by the recipe of shared/notes/mobile.md from a bundle's own float32 weights: a tf_keras
fused LSTM (one subgraph), one int32 input [1, N] in MediaPipe's convention (post-padded,
first N tokens) turned inside the graph into the model's pre-padded window of the last
maxlen tokens, output [1, 2] = [1 - p, p], and MediaPipe metadata (regex tokenizer, labels).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np

# MediaPipe's RegexTokenizer delimiter that reproduces the vocab kind's splitting (mobile.md).
DELIMITER = r"(?:(?i:<br />)|[^\P{P}']|[$+<=>^`|~]|[\x{09}-\x{0d}\x{1c}-\x{1f}\x{85}\p{Z}])+"
INPUT_LENGTH = 256
FIXTURE_VARIANT = "mediapipe-fp32"
METADATA_PARSER_VERSION = "1.2.1"


def build_model(weights: dict[str, np.ndarray], maxlen: int, input_length: int = INPUT_LENGTH) -> bytes:
    import tensorflow as tf
    import tf_keras

    vocab, dim = weights["embedding"].shape
    units = weights["lstm_recurrent_kernel"].shape[0]
    ids = tf_keras.Input((input_length,), batch_size=1, dtype="int32", name="ids")
    window = tf_keras.layers.Lambda(lambda x: _pre_pad_window(tf, x, maxlen), name="pre_pad_window")(ids)
    hidden = tf_keras.layers.Embedding(vocab, dim)(window)
    # Unrolled: the fused LSTM op keeps its state in variable tensors between invocations.
    hidden = tf_keras.layers.LSTM(units, unroll=True)(hidden)
    p = tf_keras.layers.Dense(1, activation="sigmoid")(hidden)
    scores = tf_keras.layers.Lambda(lambda q: tf.concat([1.0 - q, q], axis=1), name="scores")(p)
    model = tf_keras.Model(ids, scores)
    model.set_weights([weights["embedding"], weights["lstm_kernel"], weights["lstm_recurrent_kernel"],
                       weights["lstm_bias"], weights["dense_kernel"], weights["dense_bias"]])
    function = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([1, input_length], tf.int32))
    return tf.lite.TFLiteConverter.from_concrete_functions([function], model).convert()


def _pre_pad_window(tf, ids, maxlen: int):
    count = tf.reduce_sum(tf.cast(tf.not_equal(ids, 0), tf.int32), axis=1)
    positions = tf.range(maxlen) + count[0] - maxlen
    gathered = tf.gather(ids[0], tf.maximum(positions, 0))
    return tf.expand_dims(tf.where(positions >= 0, gathered, tf.zeros_like(gathered)), 0)


def vocab_lines(words: list[str]) -> list[str]:
    lines, seen = ["<PAD> 0", "<UNKNOWN> 1"], set(words)
    for index, word in enumerate(words, start=2):
        forms = [word] + [form for form in {word.capitalize(), word.upper()} if form != word and form not in seen]
        lines.extend(f"{form} {index}" for form in forms)
    return lines


def add_metadata(model: bytes, words: list[str], labels: list[str], scratch: Path) -> bytes:
    _work_around_missing_metadata_version()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, text_classifier

    vocab = scratch / "vocab.txt"
    vocab.write_text("\n".join(vocab_lines(words)) + "\n", encoding="utf-8")
    writer = text_classifier.MetadataWriter.create_for_regex_model(
        model, regex_tokenizer=metadata_writer.RegexTokenizer(DELIMITER, str(vocab)),
        labels=metadata_writer.Labels().add(labels))
    populated = writer.populate()[0]
    del writer  # its __del__ raises at interpreter exit otherwise (mobile.md)
    return populated


def _work_around_missing_metadata_version() -> None:
    """mediapipe 1.2.3's wheel lacks the compiled metadata-version module its writer imports."""
    name = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
    if name in sys.modules:
        return
    module = types.ModuleType(name)
    module.GetMinimumMetadataParserVersion = lambda *_: METADATA_PARSER_VERSION
    for parent in ("mediapipe.tasks.cc", "mediapipe.tasks.cc.metadata", "mediapipe.tasks.cc.metadata.python"):
        sys.modules.setdefault(parent, types.ModuleType(parent))
    sys.modules[name] = module
