"""The mobile variants: one .tflite that MediaPipe Tasks' TextClassifier runs from raw text.

What MediaPipe needs of a regex-tokenizer text model (mediapipe/tasks/cc/text/utils/
text_model_utils.cc, components/processors/text_preprocessing_graph.cc and
classification_postprocessing_graph.cc): exactly one subgraph, one int32 input
[1, N], one float score per label, and TFLite Metadata holding the tokenizer and
the labels. Its preprocessing keeps the *first* N tokens and pads *after* them;
our model reads the *last* maxlen tokens padded *before* them. So the graph turns
MediaPipe's ids into our window with builtin ops (NOT_EQUAL, CAST, SUM, RANGE,
ADD, GATHER, SELECT): n = the count of non-padding ids, window = ids[n - maxlen + k]
for k < maxlen (padding where that index is negative). N = `input_tokens` keeps
`truncating="pre"` exact for texts up to N tokens.

The LSTM is the unrolled Keras 3 twin (one subgraph, no variable tensors: every
invoke starts from the zero state). The output is one score per label, which MediaPipe passes
through as they are: [1 - p, p] for a sigmoid's two labels (negative, positive), the softmax's
C probabilities for C labels; the metadata's label file names them in the same order.

Runs in an export subprocess.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from edgelstm.core.manifest import POST_PADDED
from edgelstm.export import convert_tflite, keras_model, mediapipe_metadata, mobile_tokenizer
from edgelstm.export.jobs import ConversionJob
from edgelstm.runtime.tokenizer import PADDING_ID, Tokenizer

# MediaPipe's input length: up to this many tokens MediaPipe keeps everything and the graph
# picks the last maxlen, exactly like our tokenizer; only longer texts (rare: 0.1 % of IMDB
# reviews exceed 1000 words) see MediaPipe's first N tokens instead of the whole text's last.
MIN_INPUT_TOKENS = 2048
INPUT_FACTOR = 4  # at least this many windows, for models with a long maxlen
INPUT_LAYOUT = POST_PADDED  # what the runtime feeds this file: ids first, padding after
TASK = "mediapipe.tasks.text.TextClassifier"


def output_description(labels: int) -> str:
    """The manifest's words for the mobile file's output (mediapipe.output)."""
    if labels == 2:
        return "float32 [1, 2]: the score of each label, [1 - p, p]"
    return f"float32 [1, {labels}]: the softmax probability of each label, in the order of task.labels"


def input_tokens(maxlen: int) -> int:
    return max(MIN_INPUT_TOKENS, INPUT_FACTOR * maxlen)


def window_of(ids: Any, maxlen: int) -> Any:
    """MediaPipe's post-padded ids [1, N] -> our pre-padded window [1, maxlen] of the last tokens."""
    import tensorflow as tf

    row = ids[0]
    count = tf.reduce_sum(tf.cast(tf.not_equal(row, PADDING_ID), tf.int32))
    positions = tf.range(maxlen) + count - maxlen
    window = tf.where(positions >= 0, tf.gather(row, tf.maximum(positions, 0)), tf.fill([maxlen], PADDING_ID))
    return tf.reshape(window, [1, maxlen])


def mediapipe_unrolled(job: ConversionJob) -> dict[str, Any]:
    """The `mediapipe-unrolled` route's converter: the mobile .tflite with its metadata, and the probe.

    Returns the converter settings the manifest records (quantization, how the metadata was written).
    """
    import tensorflow as tf

    if job.tokenizer is None or not job.labels:
        raise ValueError("the mediapipe-unrolled route needs the run's tokenizer and the task's labels")
    regex = mobile_tokenizer.regex_tokenizer(Tokenizer.load(job.tokenizer))  # NotExpressible: no mobile variant
    model = keras_model.load_model(job.model)
    arch = keras_model.architecture(model)
    length = input_tokens(arch.maxlen)
    twin = convert_tflite.unrolled_twin(model, arch)

    def scores(ids: Any) -> Any:
        probability = twin(window_of(ids, arch.maxlen))
        if probability.shape[-1] == 1:  # a sigmoid: MediaPipe wants one score per label
            return tf.concat([1.0 - probability, probability], axis=1)
        return probability  # a softmax already gives one per label

    signature = [tf.TensorSpec([1, length], tf.int32, name=convert_tflite.INPUT_NAME)]
    with tempfile.TemporaryDirectory(prefix="edgelstm-mobile-") as scratch:
        converter = convert_tflite.saved_model_converter(twin, scores, signature, Path(scratch) / "savedmodel")
        settings = convert_tflite.set_precision(converter, job.precision, job.calibration, None)
        vocab_file = Path(scratch) / "vocab.txt"
        regex.write_vocabulary(vocab_file)
        content, written = mediapipe_metadata.populate(converter.convert(), delimiter=regex.delimiter,
                                                       vocab_file=vocab_file, labels=list(job.labels))
        job.out.write_bytes(content)
        if job.probe is not None and not job.probe.is_file():  # one probe serves both mobile variants
            write_probe(job.probe, arch.maxlen, length, regex, vocab_file)
    return {**settings, "metadata": written}


def write_probe(out: Path, maxlen: int, length: int, regex: mobile_tokenizer.RegexTokenizer, vocab_file: Path) -> None:
    """A model whose "scores" are the window the mobile graph computes, as floats, one "label" per position.

    Run in MediaPipe on a text, it shows exactly which ids MediaPipe's tokenizer and the
    in-graph conversion handed the LSTM, so export can count the texts it tokenizes unlike us.
    """
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, length], tf.int32, name=convert_tflite.INPUT_NAME)])
    def window(ids: Any) -> Any:
        return tf.cast(window_of(ids, maxlen), tf.float32)

    plain = tf.lite.TFLiteConverter.from_concrete_functions([window.get_concrete_function()]).convert()
    content, _ = mediapipe_metadata.populate(plain, delimiter=regex.delimiter, vocab_file=vocab_file,
                                             labels=[str(position) for position in range(maxlen)])
    out.write_bytes(content)
