"""TFLite Metadata for MediaPipe's TextClassifier, written with MediaPipe's own metadata writer.

The writer of the pinned mediapipe release (1.2.3) cannot be imported: its
`metadata.py` imports `mediapipe.tasks.cc.metadata.python._pywrap_metadata_version`,
a compiled module the wheel does not ship. It asks that module one thing: the
minimum metadata parser version a metadata buffer needs. That is a small table
(mediapipe/tasks/cc/metadata/metadata_version.cc: the schema members added after
1.0.0 and the version that added each), so `_install_parser_version_shim` puts a
module computing it from the same table in place of the missing one, and only
when it is missing: a fixed release then uses its own. Everything else (buffers,
associated files, the populator) is MediaPipe's code.

Runs in an export subprocess (it imports mediapipe, which imports TensorFlow).
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

MISSING_MODULE = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
BASE_PARSER_VERSION = (1, 0, 0)
# Schema members newer than 1.0.0 that a text classifier's metadata can hold, and the
# parser version that introduced each (metadata_version.cc, GetMemberVersion).
VOCABULARY_FILE = (1, 0, 1)
PROCESS_UNITS = (1, 1, 0)  # input/output process units on the subgraph
BERT_OR_SENTENCEPIECE = (1, 1, 0)
TENSOR_GROUPS = (1, 2, 0)
REGEX_TOKENIZER = (1, 2, 1)
AUDIO_PROPERTIES = (1, 3, 0)
SCANN_INDEX_FILE = (1, 4, 0)
FILE_VERSION = (1, 4, 1)
CUSTOM_METADATA = (1, 5, 0)


def minimum_parser_version(buffer: bytes) -> str:
    """The oldest metadata parser that can read `buffer`, e.g. "1.2.1" (what the missing module computes)."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    root = fb.ModelMetadata.GetRootAsModelMetadata(bytearray(buffer), 0)
    needed = [BASE_PARSER_VERSION]
    for index in range(root.SubgraphMetadataLength()):
        needed += _subgraph_needs(root.SubgraphMetadata(index), fb)
    needed += [_file_needs(root.AssociatedFiles(i), fb) for i in range(root.AssociatedFilesLength())]
    return ".".join(str(part) for part in max(needed))


def _subgraph_needs(graph: Any, fb: Any) -> list[tuple[int, int, int]]:
    needed = []
    for tensors, count in ((graph.InputTensorMetadata, graph.InputTensorMetadataLength()),
                           (graph.OutputTensorMetadata, graph.OutputTensorMetadataLength())):
        needed += [need for i in range(count) for need in _tensor_needs(tensors(i), fb)]
    needed += [_file_needs(graph.AssociatedFiles(i), fb) for i in range(graph.AssociatedFilesLength())]
    for present, units, count in ((not graph.InputProcessUnitsIsNone(), graph.InputProcessUnits,
                                   graph.InputProcessUnitsLength()),
                                  (not graph.OutputProcessUnitsIsNone(), graph.OutputProcessUnits,
                                   graph.OutputProcessUnitsLength())):
        if present:
            needed += [PROCESS_UNITS] + [_unit_needs(units(i), fb) for i in range(count)]
    if not graph.InputTensorGroupsIsNone() or not graph.OutputTensorGroupsIsNone():
        needed.append(TENSOR_GROUPS)
    if not graph.CustomMetadataIsNone():
        needed.append(CUSTOM_METADATA)
    return needed


def _tensor_needs(tensor: Any, fb: Any) -> list[tuple[int, int, int]]:
    needed = [_file_needs(tensor.AssociatedFiles(i), fb) for i in range(tensor.AssociatedFilesLength())]
    needed += [_unit_needs(tensor.ProcessUnits(i), fb) for i in range(tensor.ProcessUnitsLength())]
    content = tensor.Content()
    if content is not None and content.ContentPropertiesType() == fb.ContentProperties.AudioProperties:
        needed.append(AUDIO_PROPERTIES)
    return needed


def _unit_needs(unit: Any, fb: Any) -> tuple[int, int, int]:
    kind = unit.OptionsType()
    if kind == fb.ProcessUnitOptions.RegexTokenizerOptions:
        return REGEX_TOKENIZER
    if kind in (fb.ProcessUnitOptions.BertTokenizerOptions, fb.ProcessUnitOptions.SentencePieceTokenizerOptions):
        return BERT_OR_SENTENCEPIECE
    return BASE_PARSER_VERSION


def _file_needs(file: Any, fb: Any) -> tuple[int, int, int]:
    needed = [BASE_PARSER_VERSION]
    if file.Type() == fb.AssociatedFileType.VOCABULARY:
        needed.append(VOCABULARY_FILE)
    if file.Type() == fb.AssociatedFileType.SCANN_INDEX_FILE:
        needed.append(SCANN_INDEX_FILE)
    if file.Version() is not None:
        needed.append(FILE_VERSION)
    return max(needed)


def _install_parser_version_shim() -> bool:
    """Stand in for the compiled module when the wheel lacks it; True when the shim was needed."""
    try:
        importlib.import_module(MISSING_MODULE)
        return False
    except ImportError:
        pass
    shim = types.ModuleType(MISSING_MODULE)
    shim.GetMinimumMetadataParserVersion = minimum_parser_version  # type: ignore[attr-defined]
    parts = MISSING_MODULE.split(".")
    for depth in range(len(parts) - 1, 0, -1):  # the parent packages the wheel lacks too
        name = ".".join(parts[:depth])
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError:
                sys.modules[name] = types.ModuleType(name)
    sys.modules[MISSING_MODULE] = shim
    return True


def populate(model: bytes, *, delimiter: str, vocab_file: Path, labels: list[str]) -> tuple[bytes, dict[str, Any]]:
    """`model` with the regex tokenizer, its vocabulary and the labels as metadata; and how it was written."""
    shimmed = _install_parser_version_shim()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, text_classifier

    writer = text_classifier.MetadataWriter.create_for_regex_model(
        bytearray(model),
        regex_tokenizer=metadata_writer.RegexTokenizer(delim_regex_pattern=delimiter,
                                                       vocab_file_path=str(vocab_file)),
        labels=metadata_writer.Labels().add(list(labels)))
    content, _ = writer.populate()
    # MetadataWriter.__del__ fails when it runs at interpreter exit (its temporary folder's
    # module globals are gone by then): end the writer here, while everything still exists.
    del writer
    return bytes(content), {"writer": "mediapipe.tasks.python.metadata.metadata_writers.text_classifier",
                            "parser_version_shim": shimmed}
