"""The six exported variants: their names everywhere (CLI, manifest, reports) and what runs them."""

from __future__ import annotations

from dataclasses import dataclass

from edgelstm.core.errors import ConfigError


@dataclass(frozen=True)
class VariantSpec:
    name: str
    format: str  # "tflite" or "onnx"
    precision: str  # "fp32", "fp16", "dynint8", "int8"
    description: str

    @property
    def filename(self) -> str:
        return f"model-{self.name}.{self.format}"

    @property
    def is_float32(self) -> bool:
        return self.precision == "fp32"


VARIANTS: dict[str, VariantSpec] = {
    spec.name: spec
    for spec in (
        VariantSpec("tflite-fp32", "tflite", "fp32", "TFLite, float32 weights and compute"),
        VariantSpec("tflite-fp16", "tflite", "fp16", "TFLite, float16 weights, float32 compute"),
        VariantSpec("tflite-dynint8", "tflite", "dynint8", "TFLite dynamic-range: int8 weights, float activations"),
        VariantSpec("tflite-int8", "tflite", "int8", "TFLite full integer, calibrated on training texts"),
        VariantSpec("onnx-fp32", "onnx", "fp32", "ONNX from tf2onnx, one LSTM node, float32"),
        VariantSpec("onnx-dynint8", "onnx", "dynint8", "ONNX dynamic int8 (DynamicQuantizeLSTM)"),
    )
}

# Modes users ask for that cannot work for an LSTM, with the reason we give them.
UNSUPPORTED_MODES: dict[str, str] = {
    "tflite-int16x8": "16x8 quantization is not supported for LSTM: the converter rejects "
    "UNIDIRECTIONAL_SEQUENCE_LSTM ('not yet supported') and the WHILE-loop graph crashes the converter",
    "tflite-16x8": "16x8 quantization is not supported for LSTM (see tflite-int16x8)",
    "onnx-int8": "static int8 quantization of ONNX leaves the LSTM in float; use onnx-dynint8",
}


def variant_spec(name: str) -> VariantSpec:
    """Look up a variant by name, with an error listing the valid ones."""
    if name in VARIANTS:
        return VARIANTS[name]
    if name in UNSUPPORTED_MODES:
        raise ConfigError(f"variant {name!r} cannot be built: {UNSUPPORTED_MODES[name]}")
    raise ConfigError(f"unknown variant {name!r}: accepted are {', '.join(VARIANTS)}")


def parse_variants(names: list[str] | None) -> list[VariantSpec]:
    """Variant names from the command line (None = all), validated and de-duplicated."""
    if not names:
        return list(VARIANTS.values())
    wanted: list[VariantSpec] = []
    for raw in names:
        for name in filter(None, (part.strip() for part in raw.split(","))):
            spec = variant_spec(name)
            if spec not in wanted:
                wanted.append(spec)
    return wanted
