"""Which graph route builds each variant, and why (summed up in docs/contracts.md, "Routes").

Two TFLite routes exist for a Keras 3 LSTM, both with the batch fixed to 1:

* ``keras3-while``: the Keras 3 model's stateful twin (ids [1, None], h0, c0: dynamic length,
  initial state as input, so the runtime can skip the padding) exported as a SavedModel;
  the LSTM becomes a WHILE loop of builtin ops. On ai-edge-litert it runs 1.6-2.5x faster
  than the fused op at every precision, but tflite-runtime 2.14 cannot load its
  dynamic-int8 form and full int8 crashes the converter.
* ``tf_keras-fused``: the same weights set into a tf_keras (Keras 2) rebuild, which converts
  to one UNIDIRECTIONAL_SEQUENCE_LSTM op: the only route to full int8 and the dynamic-int8
  form every TFLite interpreter runs. Its LSTM state lives in variable tensors that persist
  between invocations, so a runtime resets them before each row (`reset_variables`).

Measured on the IMDB model (10000 x 128 embedding, LSTM 128, 200 tokens), ai-edge-litert,
batch 1, one thread, median: fp32 0.80 ms WHILE / 1.47 ms fused, fp16 0.81 / 1.29,
dynamic int8 0.38 / 0.95, full int8 (fused) 7.3; both routes within 2e-6 of Keras in fp32.
"""

from __future__ import annotations

from edgelstm.core.errors import ConfigError
from edgelstm.runtime.variants import VariantSpec, variant_spec

KERAS3_WHILE = "keras3-while"
TF_KERAS_FUSED = "tf_keras-fused"
TF2ONNX = "tf2onnx"
ORT_QUANTIZE_DYNAMIC = "ort-quantize-dynamic"

# variant -> routes that can build it, the default first.
ROUTES: dict[str, tuple[str, ...]] = {
    "tflite-fp32": (KERAS3_WHILE, TF_KERAS_FUSED),
    "tflite-fp16": (KERAS3_WHILE, TF_KERAS_FUSED),
    # fused: the WHILE form is faster on ai-edge-litert but tflite-runtime 2.14 (which older
    # device setups pin) rejects its FULLY_CONNECTED version 12; the fused form runs on both.
    "tflite-dynint8": (TF_KERAS_FUSED, KERAS3_WHILE),
    # fused only works; keras3-while is accepted so the crash handling can be exercised
    # (the converter segfaults, and export reports that variant as failed).
    "tflite-int8": (TF_KERAS_FUSED, KERAS3_WHILE),
    "onnx-fp32": (TF2ONNX,),
    "onnx-dynint8": (ORT_QUANTIZE_DYNAMIC,),
}


def resolve_routes(specs: list[VariantSpec], overrides: list[str] | None = None) -> dict[str, str]:
    """The route of each wanted variant: its default unless `overrides` ("variant=route") names one."""
    routes = {spec.name: ROUTES[spec.name][0] for spec in specs}
    for item in overrides or []:
        name, sep, route = (part.strip() for part in item.partition("="))
        if not sep or not route:
            raise ConfigError(f"--route {item!r} must read VARIANT=ROUTE, e.g. tflite-dynint8={KERAS3_WHILE}")
        variant_spec(name)  # unknown or unsupported names get their own clear error
        if route not in ROUTES[name]:
            raise ConfigError(f"route {route!r} cannot build {name}: accepted are {', '.join(ROUTES[name])}")
        if name not in routes:
            raise ConfigError(f"--route names {name}, which is not among the variants to export "
                              f"({', '.join(routes)})")
        routes[name] = route
    return routes
