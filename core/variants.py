"""The variant table: one row per exported variant, the only place a variant's facts live.

A row states the variant's file format and precision, the graph routes that can build
it (the default first), the parity bounds export gates it on and `verify` checks, its
rank in the default preference, and per route the converter function that builds it,
the model's inputs, and the interpreters that can run the file. Everything else
derives from here: the command line's help and default order, the manifest's
`variant_preference`, the runtime's choice of backends, the Pi matrix's row order and
the tables of docs/contracts.md (`markdown_tables`; a test keeps the doc in step).

Adding a variant is one row here plus its converter function in `edgelstm.export`.

Pure Python, no numpy: the command line reads this table to print its help.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from edgelstm.core.errors import ConfigError

TFLITE, ONNX = "tflite", "onnx"
# What a model file takes as input, which decides how a client feeds it:
IDS = "ids"  # ids [batch, maxlen] only, front-padded; the state starts at zero inside the model
IDS_AND_STATE = "ids+state"  # ids [batch, None] plus the LSTM's initial state h0, c0 [batch, H]
# ids [1, N] in MediaPipe's layout (the first N tokens, padding after); the graph takes the last
# maxlen itself. N = `mediapipe.input_tokens` of the manifest entry.
MEDIAPIPE_IDS = "mediapipe-ids"
INPUT_KINDS = (IDS, IDS_AND_STATE, MEDIAPIPE_IDS)
# Interpreters this runtime has a backend for (edgelstm.runtime.backends.base.BACKENDS); a route
# may also name clients it cannot drive itself (e.g. "mediapipe", "browser") for the docs.
NUMPY = "numpy"


@dataclass(frozen=True)
class Tolerance:
    """Parity bounds against the Keras model on the evaluation set."""

    max_abs_diff: float | None  # on the probabilities; None: reported, not bounded (quantized outputs move by design)
    min_label_agreement: float  # share of labels equal to Keras'
    max_accuracy_drop: float  # percentage points below Keras' accuracy

    def to_dict(self) -> dict[str, float | None]:
        return {"max_abs_diff": self.max_abs_diff, "min_label_agreement": self.min_label_agreement,
                "max_accuracy_drop": self.max_accuracy_drop}


@dataclass(frozen=True)
class Route:
    """One way to build a variant's file, and what the file it makes needs from a client."""

    name: str
    # "module:function" in edgelstm.export, called in a child process with an
    # edgelstm.export.jobs.ConversionJob; returns {"route", "converter": settings}.
    converter: str
    interpreters: tuple[str, ...]  # backends for the file's format, best first ("numpy": from weights.npz)
    inputs: str  # IDS or IDS_AND_STATE
    why: str  # one sentence for the docs' route table
    # interpreter (of `interpreters`) -> why it cannot load this route's file: refused before loading
    refused: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None  # variant whose file this route transforms instead of the Keras model
    # stack feature (core.family.features: "gru", "stacked", "bidirectional", "masked") -> why this route
    # cannot build it: export refuses the variant with that reason before converting
    family_refused: Mapping[str, str] = field(default_factory=dict)

    @property
    def runs_on(self) -> tuple[str, ...]:
        """The interpreters that do run this route's file."""
        return tuple(name for name in self.interpreters if name not in self.refused)

    @property
    def fast_path(self) -> bool:
        """True when the file takes the initial state, so the runtime can skip the padding."""
        return self.inputs == IDS_AND_STATE


@dataclass(frozen=True)
class VariantSpec:
    name: str
    format: str  # TFLITE or ONNX: the file's suffix and which interpreters read it
    precision: str  # "fp32", "fp16", "dynint8", "int8"
    description: str
    routes: tuple[Route, ...]  # the default first
    tolerance: Tolerance
    rank: int  # in the default preference: lower is tried first by `auto` on a device
    # A MediaPipe TextClassifier model (raw text in, tokenizer in its metadata): its bounds
    # through MediaPipe on the evaluation set's raw texts. None: not a mobile variant.
    raw_text_tolerance: Tolerance | None = None

    @property
    def filename(self) -> str:
        return f"model-{self.name}.{self.format}"

    @property
    def is_mobile(self) -> bool:
        """A MediaPipe TextClassifier model: raw text in through its metadata's tokenizer."""
        return self.raw_text_tolerance is not None

    @property
    def is_float32(self) -> bool:
        return self.precision == "fp32"

    @property
    def default_route(self) -> Route:
        return self.routes[0]

    @property
    def route_names(self) -> tuple[str, ...]:
        return tuple(route.name for route in self.routes)

    def route(self, name: str) -> Route:
        """The route called `name`, or a ConfigError listing this variant's routes."""
        for route in self.routes:
            if route.name == name:
                return route
        raise ConfigError(f"route {name!r} cannot build {self.name}: accepted are {', '.join(self.route_names)}")


# --- routes -------------------------------------------------------------------------------------
KERAS3_WHILE, TF_KERAS_FUSED, KERAS3_UNROLLED = "keras3-while", "tf_keras-fused", "keras3-unrolled"
MEDIAPIPE_UNROLLED = "mediapipe-unrolled"
TF2ONNX, ORT_QUANTIZE_DYNAMIC = "tf2onnx", "ort-quantize-dynamic"
_TFLITE = "edgelstm.export.convert_tflite"
_ONNX = "edgelstm.export.convert_onnx"
_MOBILE = "edgelstm.export.convert_mobile"
TFLITE_INTERPRETERS = ("litert", "tflite-runtime")


def _keras3_while(why: str, *, numpy: bool = False, refused: Mapping[str, str] | None = None) -> Route:
    return Route(KERAS3_WHILE, f"{_TFLITE}:keras3_while", TFLITE_INTERPRETERS + ((NUMPY,) if numpy else ()),
                 IDS_AND_STATE, why, refused=dict(refused or {}))


def _fused(why: str, *, numpy: bool = False, family_refused: Mapping[str, str] | None = None) -> Route:
    return Route(TF_KERAS_FUSED, f"{_TFLITE}:tf_keras_fused", TFLITE_INTERPRETERS + ((NUMPY,) if numpy else ()),
                 IDS, why, family_refused=dict(family_refused or {}))


def _unrolled(why: str) -> Route:
    return Route(KERAS3_UNROLLED, f"{_TFLITE}:keras3_unrolled", TFLITE_INTERPRETERS, IDS, why)


def _mediapipe(why: str) -> Route:
    return Route(MEDIAPIPE_UNROLLED, f"{_MOBILE}:mediapipe_unrolled", TFLITE_INTERPRETERS, MEDIAPIPE_IDS, why)

# TFLite has no fused GRU op: measured, the tf_keras rebuild of a GRU converts to the same WHILE graph.
_GRU_INT8 = ("TFLite has no fused GRU op, so the GRU stays a WHILE loop, and full-int8 conversion of a WHILE "
             "graph crashes the converter (SIGSEGV, measured); the float and dynamic-range variants work")

# Measured on a tiny masked LSTM: the mask-free graph's row bookkeeping (export/keras_model.py, `twin`) has
# ops the full-integer quantizer refuses.
_MASKED_INT8 = ("full int8 of the graph that skips a masked embedding's padding fails: the converter cannot "
                "quantize its CAST, SELECT_V2 and ONE_HOT ops (measured); the float and dynamic-range variants work")

# Quantized outputs move by design: their bounds hold labels and accuracy, not probabilities.
_QUANTIZED = Tolerance(max_abs_diff=None, min_label_agreement=0.99, max_accuracy_drop=0.5)
# A mobile variant in MediaPipe on the evaluation set's raw texts, against Keras. Over every
# text the labels must agree on this share (issue 10's target); what moves probabilities is the
# tokenization a regex cannot reproduce (NFKC, mixed case), counted and shown by export. On the
# texts MediaPipe tokenizes as we do, the variant's own `tolerance` holds as well.
_MEDIAPIPE_RAW_TEXT = Tolerance(max_abs_diff=None, min_label_agreement=0.995, max_accuracy_drop=0.5)

# Table order is the default export order and the order of every report. Ranks: dynamic int8
# leads (a quarter of the float size, labels held to Keras'); ONNX before TFLite at each
# precision, by measurement (benchmarks/README.md, IMDB bundle, batch 1: onnx-dynint8 0.24 ms
# against 0.97 ms for the fused, always-padded tflite-dynint8; onnx-fp32 0.56 ms against
# 0.75 ms); full int8 last: the slowest on a CPU (11 ms), there for integer-only hardware.
# mobile-dynint8 right after tflite-dynint8: the dynamic-int8 file tflite-runtime 2.14 loads.
_ROWS = (
    VariantSpec(
        "tflite-fp32", TFLITE, "fp32", "TFLite, float32 weights and compute",
        routes=(_keras3_while("takes the fast path (state inputs, dynamic length); 1.8x faster than the fused op "
                              "on ai-edge-litert (0.80 vs 1.47 ms); both within 2e-6 of Keras; every TFLite "
                              "interpreter runs it", numpy=True),
                _fused("one UNIDIRECTIONAL_SEQUENCE_LSTM op, fixed length; its state tensors are zeroed by the "
                       "graph at every invocation (export/state_reset.py)", numpy=True)),
        # float32 end to end: only summation order differs; measured 4e-7 (WHILE) to 8e-5 (fused).
        tolerance=Tolerance(max_abs_diff=1e-4, min_label_agreement=1.0, max_accuracy_drop=0.0),
        rank=5),
    VariantSpec(
        "tflite-fp16", TFLITE, "fp16", "TFLite, float16 weights, float32 compute",
        routes=(_keras3_while("1.6x faster than the fused op (0.81 vs 1.29 ms), same parity (1.4e-4); every "
                              "TFLite interpreter runs it"),
                _fused("one fused LSTM op with float16 weights")),
        # float16 weights dequantized to float32 at load: 11-bit mantissa, errors of 1e-3 are expected.
        tolerance=Tolerance(max_abs_diff=1e-2, min_label_agreement=0.99, max_accuracy_drop=0.5),
        rank=6),
    VariantSpec(
        "tflite-dynint8", TFLITE, "dynint8", "TFLite dynamic-range: int8 weights, float activations",
        # WHILE by default: the fast path on ai-edge-litert, stateless. tflite-runtime 2.14 refuses
        # such a file by its op versions (runtime/backends/tflite_runtime.py); mobile-dynint8
        # (per-tensor weights, ranked next) is the dynamic-int8 file it loads.
        routes=(_keras3_while("fast path and 2.5x faster than the fused op on ai-edge-litert (0.38 vs 0.95 ms), "
                              "no state kept between calls; tflite-runtime 2.14 cannot load it once its dense "
                              "weights are int8 per channel (FULLY_CONNECTED version 12, as on IMDB): "
                              "mobile-dynint8 is the dynamic-int8 file it loads"),
                _unrolled("one subgraph, one input, no state kept; always runs maxlen steps"),
                _fused("one fused op, fixed length, state zeroed by the graph at every invocation; runs on "
                       "both TFLite interpreters")),
        tolerance=_QUANTIZED,  # int8 weights, float activations: probabilities move by a few 1e-2
        rank=2),
    VariantSpec(
        "tflite-int8", TFLITE, "int8", "TFLite full integer, calibrated on training texts",
        # The fused op keeps its cell state in int16 and its state tensors are zeroed by the graph at
        # every invocation (export/state_reset.py), so the file is right when used plainly. The
        # unrolled graph quantizes the cell state to int8 at every step: 90-99 % of labels on IMDB-sized
        # models against 96-99.7 % fused (docs/contracts.md). keras3-while is accepted so the crash
        # handling can be exercised: the converter segfaults on full int8 of the WHILE graph, and
        # export reports that variant as failed.
        routes=(_fused("the default (7.3 ms): int16 cell state, legacy calibrator, state zeroed by the graph at "
                       "every invocation", family_refused={"gru": _GRU_INT8, "masked": _MASKED_INT8}),
                _unrolled("the cell state is quantized to int8 at every step: 93.6 % of labels on an IMDB-sized "
                          "model where the fused op gets 98.8 %"),
                _keras3_while("crashes the converter (SIGSEGV); accepted to exercise export's crash handling")),
        tolerance=_QUANTIZED,  # int8 weights and activations, calibrated: the loosest
        rank=8),
    VariantSpec(
        "onnx-fp32", ONNX, "fp32", "ONNX from tf2onnx, one LSTM node, float32",
        routes=(Route(TF2ONNX, f"{_ONNX}:tf2onnx_fp32", ("onnxruntime", NUMPY), IDS_AND_STATE,
                      "`from_function` on the stateful twin (ids `[None, None]`, h0, c0 `[None, H]`), opset 17: "
                      "one LSTM node, dynamic batch and length, fast path"),),
        # one fused LSTM node in float32; measured 2.4e-7 in onnxruntime.
        tolerance=Tolerance(max_abs_diff=1e-4, min_label_agreement=1.0, max_accuracy_drop=0.0),
        rank=4),
    VariantSpec(
        "onnx-dynint8", ONNX, "dynint8", "ONNX dynamic int8 (DynamicQuantizeLSTM)",
        routes=(Route(ORT_QUANTIZE_DYNAMIC, f"{_ONNX}:quantize_dynamic", ("onnxruntime",), IDS_AND_STATE,
                      "onnxruntime `quantize_dynamic`, QInt8 weights, from the onnx-fp32 model: still one "
                      "DynamicQuantizeLSTM with the state inputs, fast path", source="onnx-fp32"),),
        tolerance=_QUANTIZED,  # DynamicQuantizeLSTM: measured |dp| 4e-3..1.2e-2 with identical labels
        rank=1),
    # The file an app copies: MediaPipe Tasks' TextClassifier runs it from raw text (its metadata
    # holds the tokenizer and the labels); any plain TFLite interpreter runs it too.
    VariantSpec(
        "mobile-fp32", TFLITE, "fp32", "TFLite for MediaPipe TextClassifier and apps, float32",
        routes=(_mediapipe("Keras 3 `LSTM(unroll=True)`: one subgraph (MediaPipe refuses the WHILE loop's three) "
                           "and no variable tensors; MediaPipe's post-padded ids turned into the model's window "
                           "in the graph; TFLite Metadata by MediaPipe's own writer"),),
        # float32 end to end, on our ids: measured 1.8e-7 on the IMDB-sized model.
        tolerance=Tolerance(max_abs_diff=1e-4, min_label_agreement=1.0, max_accuracy_drop=0.0),
        raw_text_tolerance=_MEDIAPIPE_RAW_TEXT,
        rank=7),
    VariantSpec(
        "mobile-dynint8", TFLITE, "dynint8",
        "TFLite for MediaPipe TextClassifier and apps, int8 weights; loads on tflite-runtime 2.14",
        routes=(_mediapipe("as mobile-fp32, with per-tensor int8 dense weights: FULLY_CONNECTED version 9, "
                           "which tflite-runtime 2.14 loads"),),
        tolerance=_QUANTIZED,
        raw_text_tolerance=_MEDIAPIPE_RAW_TEXT,
        # after tflite-dynint8: the dynamic-int8 file a device with only tflite-runtime 2.14 runs
        rank=3),
)

VARIANTS: dict[str, VariantSpec] = {spec.name: spec for spec in _ROWS}
# Best first: what `auto` tries on a device, and the manifest's `variant_preference` order.
PREFERENCE: tuple[str, ...] = tuple(spec.name for spec in sorted(_ROWS, key=lambda spec: spec.rank))
# The ranks were measured on the classic LSTM. A stack feature (core.family.features) named here
# moves its variant to the front of the preference export writes (export/manifest.py); a bundle
# keeps the order it was written with. A GRU: onnxruntime has no quantized GRU, so onnx-dynint8's
# GRU node stays float32 and its lead over tflite-dynint8 is gone. On the IMDB-size GRU (README,
# "The recurrent family on IMDB"; two back-to-back bench runs, load 5-7) tflite-dynint8 is the
# smaller file (1.40 against 1.68 MB), faster on 200 tokens (1.57 / 2.19 against 1.96 / 2.44 ms)
# and at batch 32 (478 / 565 against 432 / 282 seq/s), and level at batch 1 on real lengths
# (1.64 / 1.93 against 1.39 / 2.14 ms); on the LSTM onnx-dynint8 stays 2-3x faster.
FAMILY_LEADS: dict[str, str] = {"gru": "tflite-dynint8"}


def preference_for(features: Collection[str] = ()) -> tuple[str, ...]:
    """The preference order of a stack with these features: PREFERENCE, each feature's lead moved first."""
    leads = [FAMILY_LEADS[feature] for feature in sorted(features) if feature in FAMILY_LEADS]
    return tuple(dict.fromkeys([*leads, *PREFERENCE]))

# The fast path (runtime/padding.py) against the padded way on the same float32 variant and
# backend: the same arithmetic from a state computed by Keras' cell instead of by the model,
# so only summation order differs; measured 7e-8 (litert WHILE) and 1.2e-7 (onnxruntime) on the
# IMDB LSTM, 1.5e-6 on a tiny trained GRU in onnxruntime (its GRU op orders the sums unlike
# Keras' cell, which computed the table). A wrong table row or state moves outputs by 1e-2.
# Quantized variants are held to their own bounds on both paths instead.
FAST_PATH_MAX_DIFF_FP32 = 1e-5

# The same MediaPipe .tflite in the browser (wasm, @mediapipe/tasks-text) and in Python
# MediaPipe: one C++ core, so only the compiler's float code differs; measured 1.2e-7.
BROWSER_VS_PYTHON_MAX_DIFF = 1e-6

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


def resolve_routes(specs: list[VariantSpec], overrides: list[str] | None = None) -> dict[str, Route]:
    """The route of each wanted variant: its default unless `overrides` ("variant=route") names one."""
    routes = {spec.name: spec.default_route for spec in specs}
    for item in overrides or []:
        name, sep, route = (part.strip() for part in item.partition("="))
        if not sep or not route:
            raise ConfigError(f"--route {item!r} must read VARIANT=ROUTE, e.g. tflite-dynint8={KERAS3_WHILE}")
        spec = variant_spec(name)  # unknown or unsupported names get their own clear error
        chosen = spec.route(route)
        if name not in routes:
            raise ConfigError(f"--route names {name}, which is not among the variants to export "
                              f"({', '.join(routes)})")
        routes[name] = chosen
    return routes


def route_of(variant: str, route: str | None) -> Route:
    """The route a manifest entry names (a bundle records it per variant), or the variant's default."""
    spec = variant_spec(variant)
    return spec.route(route) if route is not None else spec.default_route


def markdown_tables() -> str:
    """The variant table and the route table of docs/contracts.md, as this table states them."""
    lines = ["| variant | format | precision | routes (default first) | max abs diff | min label agreement "
             "| max accuracy drop | MediaPipe on raw text: min label agreement | preference "
             "| interpreters (default route) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for spec in VARIANTS.values():
        t, raw = spec.tolerance, spec.raw_text_tolerance
        bound = f"{t.max_abs_diff:g}" if t.max_abs_diff is not None else "-"
        raw_bound = f"{raw.min_label_agreement:g}" if raw is not None else "-"
        lines.append(f"| {spec.name} | {spec.format} | {spec.precision} | "
                     f"{', '.join(f'`{r}`' for r in spec.route_names)} | {bound} | {t.min_label_agreement:g} | "
                     f"{t.max_accuracy_drop:g} | {raw_bound} | {spec.rank} | {', '.join(spec.default_route.runs_on)} |")
    lines += ["", "| variant | route | inputs | runs on | converter | why |", "| --- | --- | --- | --- | --- | --- |"]
    for spec in VARIANTS.values():
        for route in spec.routes:
            lines.append(f"| {spec.name} | `{route.name}` | {route.inputs} | {', '.join(route.runs_on)} | "
                         f"`{route.converter}` | {route.why} |")
    return "\n".join(lines)
