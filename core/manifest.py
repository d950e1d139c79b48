"""manifest.json as typed records (docs/contracts.md, "manifest.json"): written by export, read by the runtime.

Every record has `from_dict` (strict: each field's type and range is checked, and a
wrong one is a one-line BundleError naming the field) and `to_dict` (what export
writes). Schema 2 is written; schema 1 bundles, made before it, are still read: they
have two labels and a sigmoid output, and their variants were gated on the bounds of
the variant table, which `VariantEntry.tolerance` then reports.

Pure Python: the command line and `verify` read manifests without numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from edgelstm.core import family
from edgelstm.core.errors import BundleError
from edgelstm.core.family import RecurrentLayer
from edgelstm.core.fields import Fields, clip, describe, is_int
from edgelstm.core.outputs import LABEL_THRESHOLD, OUTPUT_KINDS, SCHEMA1_OUTPUT, SIGMOID
from edgelstm.core.variants import VARIANTS, Tolerance, variant_spec

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
# The bundle's own files (docs/contracts.md, "Bundle"); a variant's model file is named by its row.
MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
GOLDEN = "golden.npz"
WEIGHTS = "weights.npz"
MODEL_CARD = "README.md"
STATUS_PASSED, STATUS_FAILED = "passed", "failed"
STATUSES = (STATUS_PASSED, STATUS_FAILED)
TRUNCATIONS = ("pre", "post")
# Where a rejected variant stopped: it could not be built, could not be run, or missed its bounds.
STAGE_PARITY = "parity"
STAGES = ("convert", "check", STAGE_PARITY)
# Ranges no edgelstm bundle comes near: a value past them is hostile, refused before it sizes anything.
MAX_MAXLEN = 100_000
MAX_VOCAB = 10_000_000
MAX_FILE_BYTES = 1 << 34  # 16 GiB
MAX_NAME_CHARS = 255  # a file name, as most filesystems allow
# Ids 0-2 are the tokenizer's padding, start and out-of-vocabulary marks: a vocabulary has more.
MIN_VOCAB = 3


def _fields(data: Any, where: str = "") -> Fields:
    return Fields(data, where, source=MANIFEST, error=BundleError)


def _shown(text: str) -> str:
    """A name from the file, quoted and cut so an error stays one short line."""
    return repr(clip(text))


def plain_file_name(name: str) -> bool:
    """A name that stays inside the bundle folder: no separator, no '.' or '..', no NUL."""
    return (0 < len(name) <= MAX_NAME_CHARS and "\0" not in name and "\\" not in name and PurePosixPath(name).name == name
            and name not in (".", ".."))


# --- small records ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileRecord:
    sha256: str
    bytes: int

    @classmethod
    def from_fields(cls, f: Fields) -> FileRecord:
        return cls(sha256=f.sha256("sha256"), bytes=f.integer("bytes", low=0, high=MAX_FILE_BYTES))

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class Producer:
    edgelstm: str
    python: str
    libraries: dict[str, str]

    @classmethod
    def from_fields(cls, f: Fields) -> Producer:
        return cls(edgelstm=f.text("edgelstm"), python=f.text("python"), libraries=f.text_map("libraries"))

    def to_dict(self) -> dict[str, Any]:
        return {"edgelstm": self.edgelstm, "python": self.python, "libraries": dict(self.libraries)}


@dataclass(frozen=True)
class SourceRun:
    """The run directory the bundle was exported from; `config` and `architecture` as the run states them."""

    name: str
    config: dict[str, Any]
    model_sha256: str
    data_fingerprint: dict[str, Any]
    validation_accuracy: float | None
    architecture: dict[str, Any]

    @classmethod
    def from_fields(cls, f: Fields) -> SourceRun:
        architecture = f.obj("architecture")
        assert architecture is not None
        # the sizes the runtime checks the tokenizer and the padding states against
        architecture.integer("vocab_size", optional=True, low=1, high=MAX_VOCAB)
        architecture.integer("lstm_units", optional=True, low=1, high=MAX_VOCAB)
        _check_recurrent(architecture)
        return cls(name=f.text("name"), config=f.raw_object("config"), model_sha256=f.sha256("model_sha256"),
                   data_fingerprint=f.raw_object("data_fingerprint"),
                   validation_accuracy=f.number("validation_accuracy", optional=True, low=0.0, high=1.0),
                   architecture=architecture.data)

    @property
    def embedding_rows(self) -> int | None:
        """The model's embedding rows: tokenizer ids must stay below it."""
        return self.architecture.get("vocab_size")

    @property
    def lstm_units(self) -> int | None:
        return self.architecture.get("lstm_units")

    @property
    def recurrent(self) -> tuple[RecurrentLayer, ...]:
        """The recurrent stack (core.family), bottom first; bundles before the family held one LSTM."""
        records = self.architecture.get("recurrent")
        if records is None:
            return (RecurrentLayer(family.LSTM, int(self.lstm_units or 1)),)
        return family.stack_from_records(records)

    @property
    def mask_zero(self) -> bool:
        """True when the embedding masks the padding id (the stack skips the padding, as Keras does)."""
        return bool(self.architecture.get("mask_zero", False))

    @property
    def padded_only(self) -> str | None:
        """Why no variant skips the padding (a bidirectional stack), or None."""
        return self.architecture.get("padded_only")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "config": self.config, "model_sha256": self.model_sha256,
                "data_fingerprint": self.data_fingerprint, "validation_accuracy": self.validation_accuracy,
                "architecture": self.architecture}


def _check_recurrent(architecture: Fields) -> None:
    """source_run.architecture's family fields (docs/family.md), when the bundle has them."""
    if not architecture.has("recurrent"):
        return
    value = architecture.data["recurrent"]
    if not isinstance(value, list) or not value:
        raise architecture.fail("recurrent", "must be a non-empty list of layers")
    for index in range(len(value)):
        layer = _fields(value[index], architecture.path(f"recurrent[{index}]"))
        layer.text("cell", choices=family.CELLS)
        layer.integer("units", low=1, high=MAX_VOCAB)
        layer.boolean("bidirectional")
        layer.boolean("use_bias", optional=True)
    architecture.boolean("fast_path", optional=True)
    architecture.text("padded_only", optional=True)
    architecture.boolean("mask_zero", optional=True)  # absent: no mask (every bundle before it)
    _check_hidden_dense(architecture)


def _check_hidden_dense(architecture: Fields) -> None:
    """The hidden Dense layers before the head, when the bundle lists them (bundles before them do not)."""
    value = architecture.data.get("hidden_dense", [])
    if not isinstance(value, list):
        raise architecture.fail("hidden_dense", "must be a list of layers")
    for index in range(len(value)):
        layer = _fields(value[index], architecture.path(f"hidden_dense[{index}]"))
        layer.integer("units", low=1, high=MAX_VOCAB)
        layer.text("activation", choices=family.DENSE_ACTIVATIONS)
        layer.boolean("use_bias", optional=True)


@dataclass(frozen=True)
class Task:
    """What the model reads and what its output means."""

    labels: tuple[str, ...]  # label i's name; at least two
    maxlen: int
    padding: str
    truncating: str
    tokenizer: str  # the tokenizer kind (edgelstm.runtime.tokenizer)
    vocab_size: int
    output: str  # SIGMOID or SOFTMAX

    @classmethod
    def from_fields(cls, f: Fields, schema: int) -> Task:
        labels = tuple(f.text_list("labels", min_length=2, unique=True))
        if schema == 1:
            f.text("output", choices=(SCHEMA1_OUTPUT,))
            output = SIGMOID
            # schema 1 wrote the threshold the label rule used; only 0.5 was ever written or meant
            if f.has("threshold") and f.number("threshold") != LABEL_THRESHOLD:
                raise f.fail("threshold", "must be 0.5 (the only threshold schema 1 bundles used)")
        else:
            output = f.text("output", choices=OUTPUT_KINDS)
        if output == SIGMOID and len(labels) != 2:
            raise f.fail("labels", f"must name exactly two labels for a {SIGMOID} output")
        return cls(labels=labels, maxlen=f.integer("maxlen", low=1, high=MAX_MAXLEN),
                   padding=f.text("padding", choices=TRUNCATIONS), truncating=f.text("truncating", choices=TRUNCATIONS),
                   tokenizer=f.text("tokenizer"), vocab_size=f.integer("vocab_size", low=MIN_VOCAB, high=MAX_VOCAB),
                   output=output)

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "maxlen": self.maxlen, "padding": self.padding,
                "truncating": self.truncating, "tokenizer": self.tokenizer, "vocab_size": self.vocab_size,
                "output": self.output}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int | None, ...]  # -1 (TFLite) or None (ONNX) for a dynamic axis

    @classmethod
    def from_fields(cls, f: Fields) -> TensorInfo:
        shape = f.data.get("shape")
        if not isinstance(shape, list) or not all(x is None or (type(x) is int and x >= -1) for x in shape):
            raise f.fail("shape", "must be a list of integers >= -1 or nulls")
        return cls(name=f.text("name", nonempty=False), dtype=f.text("dtype"), shape=tuple(shape))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class FastPath:
    """The model takes the LSTM's initial state: `inputs` names them, `padding_states` the table to start from."""

    # "ids" and each layer's state ("h0", "c0", "h0_layer1", ...; core.family) -> the model's input names
    inputs: dict[str, str]
    padding_states: str
    parity: dict[str, Any] | None

    @classmethod
    def from_fields(cls, f: Fields) -> FastPath:
        inputs = f.text_map("inputs")
        if not family.is_fast_path_inputs(inputs):
            raise f.fail("inputs", "must name the inputs ids and the states h0 (c0, h0_layer1, c0_layer1, ...)")
        return cls(inputs=dict(inputs), padding_states=f.text("padding_states"),
                   parity=f.raw_object("parity", optional=True))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"inputs": dict(self.inputs), "padding_states": self.padding_states}
        if self.parity is not None:
            data["parity"] = self.parity
        return data


def tolerance_from_fields(f: Fields) -> Tolerance:
    return Tolerance(max_abs_diff=f.number("max_abs_diff", optional=True, low=0.0),
                     min_label_agreement=f.number("min_label_agreement", low=0.0, high=1.0),
                     max_accuracy_drop=f.number("max_accuracy_drop", low=0.0, high=100.0))


@dataclass(frozen=True)
class PlainUse:
    """What an app that invokes a TFLite file plainly (once per text, its own inputs, no reset) must do."""

    stateless: bool  # False: the file keeps the LSTM state between invocations (reset before each text)
    inputs: int  # how many inputs the file declares
    how: str  # one sentence for the app developer

    @classmethod
    def from_fields(cls, f: Fields) -> PlainUse:
        return cls(stateless=f.boolean("stateless"), inputs=f.integer("inputs", low=1), how=f.text("how"))

    def to_dict(self) -> dict[str, Any]:
        return {"stateless": self.stateless, "inputs": self.inputs, "how": self.how}


# How the runtime feeds a mobile file's [1, N] ids input (export/convert_mobile.py INPUT_LAYOUT):
# MediaPipe's layout, the real ids first and padding after.
POST_PADDED = "post-padded"
INPUT_LAYOUTS = (POST_PADDED,)


@dataclass(frozen=True)
class MediaPipeFacts:
    """A mobile variant as MediaPipe's TextClassifier runs it, and how it fared there on raw text.

    Written by export (export/mobile_plan.py): the file's input and tokenizer, then the check
    through MediaPipe on the evaluation set's raw texts, gated on `tolerance` (the variant's
    raw-text bounds); `differing_rows` are the golden rows MediaPipe tokenizes unlike us,
    which `verify` holds to the label bound only.
    """

    task: str
    mediapipe_version: str
    input_tokens: int  # N of the int32 [1, N] input
    input_layout: str  # INPUT_LAYOUTS
    delimiter: str  # the RegexTokenizer's RE2 delimiter
    vocabulary_entries: int
    labels: tuple[str, ...]
    output: str
    parity: dict[str, Any]  # every raw text, against Keras
    same_tokenization_parity: dict[str, Any]  # the texts tokenized as ours
    texts: int
    tokenization_differs: int
    differing_rows: tuple[int, ...]
    examples: list[dict[str, Any]]
    tolerance: Tolerance | None = None  # the raw-text bounds export gated it on (None: the variant table's)

    @classmethod
    def from_fields(cls, f: Fields) -> MediaPipeFacts:
        rows = f.data.get("differing_rows")
        if not (isinstance(rows, list) and all(is_int(row) and row >= 0 for row in rows)):
            raise f.fail("differing_rows", "must be a list of golden row numbers (integers >= 0)")
        examples = f.data.get("examples")
        if not (isinstance(examples, list) and all(isinstance(item, dict) for item in examples)):
            raise f.fail("examples", "must be a list of objects")
        return cls(task=f.text("task"), mediapipe_version=f.text("mediapipe_version", nonempty=False),
                   input_tokens=f.integer("input_tokens", low=1), input_layout=f.text("input_layout", choices=INPUT_LAYOUTS),
                   delimiter=f.text("delimiter"), vocabulary_entries=f.integer("vocabulary_entries", low=0),
                   labels=tuple(f.text_list("labels", min_length=2)), output=f.text("output", nonempty=False),
                   parity=f.raw_object("parity"), same_tokenization_parity=f.raw_object("same_tokenization_parity"),
                   texts=f.integer("texts", low=0), tokenization_differs=f.integer("tokenization_differs", low=0),
                   differing_rows=tuple(rows), examples=examples,
                   tolerance=tolerance_from_fields(f.obj("tolerance")) if f.has("tolerance") else None)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        data = {"task": self.task, "mediapipe_version": self.mediapipe_version, "input_tokens": self.input_tokens,
                "input_layout": self.input_layout, "delimiter": self.delimiter,
                "vocabulary_entries": self.vocabulary_entries, "labels": list(self.labels), "output": self.output,
                "parity": self.parity, "same_tokenization_parity": self.same_tokenization_parity, "texts": self.texts,
                "tokenization_differs": self.tokenization_differs, "differing_rows": list(self.differing_rows),
                "examples": self.examples}
        if self.tolerance is not None:
            data["tolerance"] = self.tolerance.to_dict()
        return data


# --- a variant ----------------------------------------------------------------------------------

def _ops(f: Fields) -> list[Any]:
    """TFLite: a list per subgraph of op names; ONNX: a list of "domain:op" strings."""
    ops = f.data.get("ops")
    ok = isinstance(ops, list) and all(isinstance(x, str) or (isinstance(x, list) and all(isinstance(y, str) for y in x))
                                       for x in ops)
    if not ok:
        raise f.fail("ops", "must be a list of op names, or of lists of op names (one per subgraph)")
    return ops


def _tensors(f: Fields, key: str) -> tuple[TensorInfo, ...]:
    items = f.data.get(key)
    if not isinstance(items, list):
        raise f.fail(key, "must be a list of {name, dtype, shape} objects")
    return tuple(TensorInfo.from_fields(_fields(item, f"{f.path(key)}[{i}]")) for i, item in enumerate(items))


@dataclass(frozen=True)
class VariantEntry:
    """One exported variant: its file, how it was made, what it takes, how it fared against Keras."""

    name: str
    file: str
    format: str
    precision: str
    description: str
    route: str
    converter: dict[str, Any]
    ops: list[Any]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    batch: int | None
    bytes: int
    parity: dict[str, Any]
    status: str
    tolerance: Tolerance  # the bounds export gated it on (schema 1: the variant table's)
    fast_path: FastPath | None = None
    op_versions: dict[str, int] | None = None  # TFLite
    reset_variables: bool | None = None  # TFLite
    opset: dict[str, int] | None = None  # ONNX
    plain_use: PlainUse | None = None  # TFLite: how an app invoking the file plainly must use it
    mediapipe: MediaPipeFacts | None = None  # the mobile variants

    @property
    def passed(self) -> bool:
        return self.status == STATUS_PASSED

    @classmethod
    def from_dict(cls, name: str, data: Any) -> VariantEntry:
        """One entry as export builds it, checked like a manifest's."""
        return cls.from_fields(name, _fields(data, f"variants.{name}"))

    @classmethod
    def from_fields(cls, name: str, f: Fields) -> VariantEntry:
        if name not in VARIANTS:
            raise BundleError(f"{MANIFEST}: variants names an unknown variant {_shown(name)}: known are "
                              f"{', '.join(VARIANTS)}")
        spec = variant_spec(name)
        route = f.text("route", choices=spec.route_names)
        tolerance = tolerance_from_fields(f.obj("tolerance")) if f.has("tolerance") else spec.tolerance  # type: ignore[arg-type]
        fast = f.obj("fast_path", optional=True)
        plain, mediapipe = f.obj("plain_use", optional=True), f.obj("mediapipe", optional=True)
        if mediapipe is not None and not spec.is_mobile:
            raise f.fail("mediapipe", f"belongs to a mobile variant only, not to {name}")
        return cls(
            name=name, file=f.text("file"), format=f.text("format", choices=(spec.format,)),
            precision=f.text("precision", choices=(spec.precision,)), description=f.text("description", nonempty=False),
            route=route, converter=f.raw_object("converter"), ops=_ops(f),
            inputs=_tensors(f, "inputs"), outputs=_tensors(f, "outputs"),
            batch=f.integer("batch", optional=True, low=1), bytes=f.integer("bytes", low=0),
            parity=f.raw_object("parity"), status=f.text("status", choices=STATUSES), tolerance=tolerance,
            fast_path=FastPath.from_fields(fast) if fast is not None else None,
            op_versions=f.int_map("op_versions", optional=True),
            reset_variables=f.boolean("reset_variables", optional=True),
            opset=f.int_map("opset", optional=True),
            plain_use=PlainUse.from_fields(plain) if plain is not None else None,
            mediapipe=MediaPipeFacts.from_fields(mediapipe) if mediapipe is not None else None)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "format": self.format, "precision": self.precision,
                                "description": self.description, "route": self.route, "converter": self.converter,
                                "ops": self.ops}
        for key in ("op_versions", "reset_variables", "opset"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        data.update(inputs=[t.to_dict() for t in self.inputs], outputs=[t.to_dict() for t in self.outputs],
                    batch=self.batch, bytes=self.bytes, parity=self.parity)
        if self.fast_path is not None:
            data["fast_path"] = self.fast_path.to_dict()
        if self.plain_use is not None:
            data["plain_use"] = self.plain_use.to_dict()
        if self.mediapipe is not None:
            data["mediapipe"] = self.mediapipe.to_dict()
        data.update(tolerance=self.tolerance.to_dict(), status=self.status)
        return data


@dataclass(frozen=True)
class Rejection:
    """A variant export left out (it has no file): not built, not runnable, or over its bounds.

    `stage` is where it stopped (STAGES); `parity` holds the figures when it got as far as the
    parity gate (stage "parity"), so the user sees by how much it missed.
    """

    route: str
    stage: str
    error: str
    parity: dict[str, Any] | None = None

    @classmethod
    def from_fields(cls, f: Fields) -> Rejection:
        stage = f.text("stage", choices=STAGES)
        parity = f.raw_object("parity", optional=True)
        if stage == STAGE_PARITY and parity is None:
            raise f.fail("parity", f"must hold the figures of a variant rejected at stage {STAGE_PARITY}")
        return cls(route=f.text("route"), stage=stage, error=f.text("error", nonempty=False), parity=parity)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"route": self.route, "stage": self.stage, "error": self.error}
        if self.parity is not None:
            data["parity"] = self.parity
        return data


@dataclass(frozen=True)
class DerivedFrom:
    """A slim bundle's source (`edgelstm slim`): its manifest's sha256 and the variants it held."""

    manifest_sha256: str
    variants: tuple[str, ...]

    @classmethod
    def from_fields(cls, f: Fields) -> DerivedFrom:
        return cls(manifest_sha256=f.sha256("manifest_sha256"), variants=tuple(f.text_list("variants", unique=True)))

    def to_dict(self) -> dict[str, Any]:
        return {"manifest_sha256": self.manifest_sha256, "variants": list(self.variants)}


@dataclass(frozen=True)
class Weights:
    """weights.npz: the float32 weights the NumPy backend runs, and the variants whose outputs it reproduces."""

    file: str
    gate_order: str
    serves: tuple[str, ...]

    @classmethod
    def from_fields(cls, f: Fields) -> Weights:
        return cls(file=f.text("file"), gate_order=f.text("gate_order", choices=("ifco",)),
                   serves=tuple(f.text_list("serves", unique=True)))

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "gate_order": self.gate_order, "serves": list(self.serves)}


@dataclass(frozen=True)
class Golden:
    """golden.npz: the evaluation set with the Keras outputs every variant was compared with."""

    file: str
    count: int
    edge_cases: int
    held_out: int
    edge_case_names: tuple[str, ...]
    source: str

    @classmethod
    def from_fields(cls, f: Fields) -> Golden:
        golden = cls(file=f.text("file"), count=f.integer("count", low=0), edge_cases=f.integer("edge_cases", low=0),
                     held_out=f.integer("held_out", low=0), edge_case_names=tuple(f.text_list("edge_case_names")),
                     source=f.text("source", nonempty=False))
        if golden.edge_cases + golden.held_out != golden.count:
            raise f.fail("count", f"must equal edge_cases + held_out ({golden.edge_cases} + {golden.held_out})")
        return golden

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "count": self.count, "edge_cases": self.edge_cases, "held_out": self.held_out,
                "edge_case_names": list(self.edge_case_names), "source": self.source}


# --- the manifest -------------------------------------------------------------------------------

@dataclass
class Manifest:
    schema_version: int  # as read (1 or 2); `to_dict` writes SCHEMA_VERSION
    created: str
    producer: Producer
    source_run: SourceRun
    task: Task
    variants: dict[str, VariantEntry]
    golden: Golden
    files: dict[str, FileRecord] = field(default_factory=dict)
    rejected: dict[str, Rejection] = field(default_factory=dict)
    default_variant: str | None = None
    variant_preference: tuple[str, ...] = ()
    weights: Weights | None = None
    derived_from: DerivedFrom | None = None
    # Variants of the default set this bundle cannot have, with the one-line reason (a tokenizer
    # MediaPipe's RegexTokenizer cannot express gets no mobile variant; mediapipe not installed).
    skipped: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Check every field of a parsed manifest.json; BundleError naming the first wrong one."""
        f = _fields(data)
        schema = f.data.get("schema_version")
        if not (is_int(schema) and schema in READABLE_SCHEMAS):
            shown = repr(schema) if len(repr(schema)) <= 40 else describe(schema)
            raise BundleError(f"{MANIFEST} has schema_version {shown}; this edgelstm reads schema_version "
                              f"{' and '.join(map(str, READABLE_SCHEMAS))}: re-export the bundle or install "
                              "the matching edgelstm")
        manifest = cls(
            schema_version=schema, created=f.text("created"), producer=Producer.from_fields(f.obj("producer")),
            source_run=SourceRun.from_fields(f.obj("source_run")), task=Task.from_fields(f.obj("task"), schema),
            variants={name: VariantEntry.from_fields(name, entry) for name, entry in f.items("variants")},
            golden=Golden.from_fields(f.obj("golden")), files=_files(f),
            rejected={name: Rejection.from_fields(entry) for name, entry in f.items("rejected")}
            if f.has("rejected") else {},
            default_variant=f.text("default_variant", optional=True),
            variant_preference=tuple(f.text_list("variant_preference", unique=True)),
            weights=Weights.from_fields(f.obj("weights")) if f.has("weights") else None,  # type: ignore[arg-type]
            derived_from=DerivedFrom.from_fields(f.obj("derived_from")) if f.has("derived_from") else None,  # type: ignore[arg-type]
            skipped=dict(f.text_map("skipped")) if f.has("skipped") else {})
        manifest.check_references()
        return manifest

    def check_references(self) -> None:
        """Names that point elsewhere in the manifest point at something that is there, and every
        file the runtime reads (the tokenizer, each variant's model and tables) carries a checksum."""
        if TOKENIZER not in self.files:
            raise BundleError(f"{MANIFEST}: {TOKENIZER!r} (the tokenizer) is not listed with a checksum in files: "
                              "refused; re-export the bundle")
        for name, entry in self.variants.items():
            if entry.file not in self.files:
                raise BundleError(f"{MANIFEST}: variants.{name}.file names {_shown(entry.file)}, which is not listed with a "
                                  "checksum in files")
            if entry.fast_path is not None and entry.fast_path.padding_states not in self.files:
                raise BundleError(f"{MANIFEST}: variants.{name}.fast_path.padding_states names "
                                  f"{_shown(entry.fast_path.padding_states)}, which files does not list")
        listed = ", ".join(self.variants) or "none"
        for name in (self.default_variant, *self.variant_preference):
            if name is not None and name not in self.variants:
                raise BundleError(f"{MANIFEST}: default_variant/variant_preference names {_shown(name)}, which variants "
                                  f"does not hold (it holds {listed})")
        if self.golden.file not in self.files:
            raise BundleError(f"{MANIFEST}: golden.file names {_shown(self.golden.file)}, which files does not list")
        if self.weights is not None:
            if self.weights.file not in self.files:
                raise BundleError(f"{MANIFEST}: weights.file names {_shown(self.weights.file)}, which files does not list")
            unknown = [name for name in self.weights.serves if name not in self.variants]
            if unknown:
                raise BundleError(f"{MANIFEST}: weights.serves names {', '.join(map(_shown, unknown))}, "
                                  "which variants does not hold")

    def to_dict(self) -> dict[str, Any]:
        """As schema 2, whatever `schema_version` was read: the records hold schema 2's meaning (a
        schema-1 output sentence became its kind, its variants got the table's bounds)."""
        return {
            "schema_version": SCHEMA_VERSION, "created": self.created, "producer": self.producer.to_dict(),
            "source_run": self.source_run.to_dict(), "task": self.task.to_dict(),
            "files": {name: record.to_dict() for name, record in self.files.items()},
            "variants": {name: entry.to_dict() for name, entry in self.variants.items()},
            "rejected": {name: rejection.to_dict() for name, rejection in self.rejected.items()},
            "skipped": dict(self.skipped),
            "default_variant": self.default_variant, "variant_preference": list(self.variant_preference),
            "weights": self.weights.to_dict() if self.weights is not None else None,
            "golden": self.golden.to_dict(),
            **({"derived_from": self.derived_from.to_dict()} if self.derived_from is not None else {}),
        }

    def variant(self, name: str) -> VariantEntry:
        if name not in self.variants:
            raise BundleError(f"the bundle has no variant {name!r}: it holds {', '.join(self.variants) or 'none'}")
        return self.variants[name]


def _files(f: Fields) -> dict[str, FileRecord]:
    files = {}
    for name, record in f.items("files"):
        if not plain_file_name(name) or name == MANIFEST:
            raise BundleError(f"{MANIFEST}: files lists {_shown(name)}, which is not a plain file name in the bundle")
        files[name] = FileRecord.from_fields(record)
    return files
