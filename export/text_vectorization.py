"""A Keras `TextVectorization` layer at the front of an imported model: its tokenizer, and the model without it.

`Input(shape=(1,), dtype="string") -> TextVectorization(max_tokens, output_sequence_length=N) ->
Embedding -> ...` takes raw strings. The runtime reproduces the layer exactly (rule
`keras-text-vectorization-v1` of edgelstm.runtime.standardize, the layer's vocabulary, ids
padded and truncated at the end as the layer does) only for the settings in `ACCEPTED`; any
other is refused here in one line naming it. The model exported is the rest of the stack,
taking int32 ids [batch, N].

Runs inside the export subprocess that imports the model file: each function gets Keras objects.
"""

from __future__ import annotations

from typing import Any

from edgelstm.core.errors import ExportError

LAYER = "TextVectorization"
# The layer's settings the runtime reproduces exactly, each with the value it must have.
ACCEPTED: dict[str, Any] = {"standardize": "lower_and_strip_punctuation", "split": "whitespace", "ngrams": None,
                            "output_mode": "int", "ragged": False, "sparse": False, "encoding": "utf-8"}
ACCEPTED_TEXT = ("TextVectorization(max_tokens, output_sequence_length=N) with standardize="
                 "'lower_and_strip_punctuation', split='whitespace', ngrams=None, output_mode='int' (its defaults)")
# get_vocabulary() starts with the mask token '' (id 0, padding) and one OOV token (id 1).
MASK_TOKEN, OOV_TOKEN = "", "[UNK]"


def find(model: Any) -> Any:
    """The model's TextVectorization layer, or None; one anywhere but first (after the input) is refused."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    positions = [index for index, layer in enumerate(layers) if type(layer).__name__ == LAYER]
    if not positions:
        return None
    if positions != [0]:
        raise ExportError(f"layer {layers[positions[-1]].name} is a TextVectorization after another layer: export "
                          f"reads one as the model's first layer, on its string input ({ACCEPTED_TEXT})")
    return layers[0]


def settings(layer: Any) -> dict[str, Any]:
    """{"name", "vocabulary" (id order, from id 0), "maxlen", and the checked settings}, or an ExportError."""
    config = layer.get_config()
    for key, wanted in ACCEPTED.items():
        value = config.get(key, wanted)
        if value != wanted:
            shown = "a custom callable" if isinstance(value, dict) or callable(value) else repr(value)
            raise ExportError(f"layer {layer.name} is a TextVectorization with {key}={shown}, which the runtime "
                              f"cannot reproduce exactly: export accepts {ACCEPTED_TEXT}")
    maxlen = config.get("output_sequence_length")
    if not isinstance(maxlen, int) or maxlen < 1:
        raise ExportError(f"layer {layer.name} is a TextVectorization without output_sequence_length, so its output "
                          f"length varies with the text: export needs a fixed length N ({ACCEPTED_TEXT})")
    lookup = layer._lookup_layer  # noqa: SLF001 - the one place Keras keeps the OOV count
    vocabulary = [str(token) for token in layer.get_vocabulary()]
    if getattr(lookup, "num_oov_indices", 1) != 1 or vocabulary[:2] != [MASK_TOKEN, OOV_TOKEN]:
        raise ExportError(f"layer {layer.name}'s vocabulary starts {vocabulary[:2]!r} with "
                          f"{getattr(lookup, 'num_oov_indices', '?')} out-of-vocabulary ids: export reads the layer's "
                          f"default layout, {[MASK_TOKEN, OOV_TOKEN]!r} then the words (one OOV id)")
    if len(vocabulary) < 3:
        raise ExportError(f"layer {layer.name} has no vocabulary: adapt it (or give it a vocabulary) before saving")
    return {"name": layer.name, "vocabulary": vocabulary, "maxlen": maxlen,
            **{key: config.get(key, wanted) for key, wanted in ACCEPTED.items()}}


def without_it(model: Any, maxlen: int) -> Any:
    """The model's layers after the TextVectorization, on int32 ids [batch, maxlen] (the same layer objects,
    so the same weights); the chain is read in layer order, as the family check reads it."""
    from edgelstm.export.keras_model import import_keras

    keras = import_keras()
    ids = keras.Input((maxlen,), dtype="int32", name="ids")
    x = ids
    for layer in model.layers:
        if type(layer).__name__ not in ("InputLayer", LAYER):
            x = layer(x)
    return keras.Model(ids, x)
