"""`edgelstm export MODEL.keras --out BUNDLE`: export a Keras model file someone already has.

Most people who want a model on a device already trained one (the classic Keras IMDB example
ends with `model.save(...)`). The file becomes a run directory (docs/contracts.md) in a
temporary folder, then `export_run` makes the bundle exactly as for a run of `edgelstm train`:

- the model, read as it is (`.keras`, or the legacy `.h5`) and saved again without optimizer
  state, in a child process like every Keras step of export; a model outside the recurrent
  family is refused there, before anything is converted;
- the tokenizer the user names: the Keras IMDB encoding (`--word-index imdb_word_index.json`:
  word ranks + 3, 1 = start, 2 = out-of-vocabulary, `--num-words`, default the embedding's
  rows), an edgelstm `tokenizer.json`, or a plain vocabulary file (one word per line, ids from 2
  in file order; Keras `TextVectorization.get_vocabulary()`'s leading '' and '[UNK]' are
  recognised), or, with none of these, the model's own `TextVectorization` layer on its string
  input (export/text_vectorization.py: its vocabulary, rule keras-text-vectorization-v1, ids
  padded and truncated at the end as the layer does; the model exported takes the ids). maxlen is
  read from the model's input; a tokenizer named by an option pads and truncates at the front
  (Keras' `pad_sequences` default);
- labelled data (`--data`, any format `edgelstm train` reads, with `--text-column`,
  `--label-column`, `--label-names`): the rows the variants are gated on and, kept apart, the
  rows full int8 is calibrated on. They should be texts the model did not train on. Without
  data, every variant but full int8 (which needs labelled texts to calibrate on) is gated,
  unlabelled, on the user's own texts (`--texts`: one per line, or the text column of a file
  `train` reads), tokenized by the bundle's tokenizer (the mobile variants are also run on them
  as raw text in MediaPipe), else on id sequences drawn from the vocabulary: |dp| and label
  agreement with Keras are checked, accuracy is not measured, and the labels are the names given.

Pure Python and numpy here: TensorFlow runs only in the child processes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core import rundir
from edgelstm.core.errors import ConfigError, DataError, ExportError
from edgelstm.core.hashing import sha256_of
from edgelstm.core.outputs import labels_of_width
from edgelstm.export.jobs import DEFAULT_TIMEOUT, Job, JobFailed, run_job
from edgelstm.runtime import textarrays
from edgelstm.runtime.standardize import RULE_TEXT_VECTORIZATION
from edgelstm.runtime.tokenizer import KERAS_INDEX_FROM, KERAS_START_ID, VOCAB_OOV_ID, Tokenizer, pad_ids

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
# TextVectorization.get_vocabulary() starts with the padding token '' and the OOV token '[UNK]',
# which are edgelstm's ids 0 and 1.
TEXT_VECTORIZATION_HEAD = ("", "[UNK]")
# Rows set aside for full-int8 calibration (class-balanced), at most, and at most this share of the data.
CALIBRATION_ROWS, CALIBRATION_SHARE = 256, 0.2
SEED = 0
# Without --data: id sequences drawn from the vocabulary to gate on, of every length up to maxlen.
DRAWN_ROWS = 300
NO_DATA_SKIPS = "tflite-int8"  # full int8 calibrates on real texts
TOKENIZER_OPTIONS = ("--word-index", "--tokenizer", "--vocabulary")
POST = "post"  # TextVectorization pads and truncates at the end


@dataclass(frozen=True)
class ModelFile:
    """A Keras model file and what it needs beside it to become a bundle."""

    model: Path
    data: Path | None = None  # labelled texts for the parity gate and full-int8 calibration
    texts: Path | None = None  # without data: unlabelled texts to gate on (else ids drawn from the vocabulary)
    word_index: Path | None = None  # Keras IMDB encoding: imdb_word_index.json
    num_words: int | None = None  # Keras' num_words (default: the model's embedding rows)
    tokenizer: Path | None = None  # an edgelstm tokenizer.json
    vocabulary: Path | None = None  # one word per line, ids 2, 3, ... in file order
    label_names: tuple[str, ...] | None = None
    text_column: str = "text"
    label_column: str = "label"
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        if self.model.suffix.lower() not in MODEL_SUFFIXES:
            raise ConfigError(f"{self.model} is not a Keras model file: accepted are a run directory or a file "
                              f"ending in {', '.join(MODEL_SUFFIXES)}")
        if not self.model.is_file():
            raise ConfigError(f"no model file at {self.model}")
        given = self.tokenizer_options
        if declares_text_vectorization(self.model):
            self.refuse_tokenizer_options()
        elif len(given) != 1:
            raise ConfigError(f"a model file needs its tokenizer: give exactly one of {', '.join(TOKENIZER_OPTIONS)}"
                              + (f" (got {', '.join(given)})" if given else "")
                              + ", or save the model with its TextVectorization layer")
        if self.data is None and (self.label_names is None or len(self.label_names) < 2):
            raise ConfigError("without --data the labels cannot be read: give --label-names NAME0,NAME1[,...] "
                              "(one name per label, label 0 first) or labelled texts with --data")
        if self.data is not None and self.texts is not None:
            raise ConfigError("--data and --texts both name the texts to gate on: give --data for labelled texts "
                              "(they also calibrate full int8), --texts for unlabelled ones")
        if self.num_words is not None and self.word_index is None:
            raise ConfigError("--num-words belongs to the Keras IMDB encoding: give it with --word-index")
        for path in (self.word_index, self.tokenizer, self.vocabulary, self.texts):
            if path is not None and not path.is_file():
                raise ConfigError(f"no such file: {path}")

    @property
    def tokenizer_options(self) -> list[str]:
        """The tokenizer options given (exactly one is needed unless the model holds a TextVectorization)."""
        return [option for option, value in zip(TOKENIZER_OPTIONS, (self.word_index, self.tokenizer,
                                                                    self.vocabulary)) if value is not None]

    def refuse_tokenizer_options(self) -> None:
        """A model whose TextVectorization layer is its tokenizer takes no tokenizer option: checked from the
        file's config before the import job, and again on what the job found (an .h5 is only read there)."""
        if self.tokenizer_options:
            raise ConfigError(f"{self.model.name} has a TextVectorization layer, which is its tokenizer: leave "
                              f"out {', '.join(self.tokenizer_options)}")

    @property
    def tokenizer_source(self) -> str:
        if self.word_index is not None:
            return f"keras-imdb word index {self.word_index.name}"
        if self.tokenizer is not None:
            return f"edgelstm tokenizer {self.tokenizer.name}"
        if self.vocabulary is not None:
            return f"vocabulary file {self.vocabulary.name}"
        return f"the TextVectorization layer of {self.model.name}"

    @property
    def gate_source(self) -> str:
        """What the variants are gated on besides the edge cases, in words (log, manifest, model card)."""
        if self.data is not None:
            return f"labelled texts of {self.data.name} (--data)"
        if self.texts is not None:
            return f"unlabelled texts of {self.texts.name} (--texts)"
        return "id sequences drawn from the vocabulary (no --data or --texts)"


def export_model_file(source: ModelFile, out: str | Path, *, timeout: float = DEFAULT_TIMEOUT,
                      log: Any = print, **export_options: Any) -> Path:
    """Make the run directory of `source` in a temporary folder, then `export_run` it into `out`."""
    from edgelstm.export.pipeline import export_run

    if source.data is None:
        export_options["variants"] = _without_full_int8(export_options.get("variants"), source.gate_source, log)
    with tempfile.TemporaryDirectory(prefix="edgelstm-import-") as scratch:
        run = write_run(source, Path(scratch), timeout=timeout, log=log)
        return export_run(run, out, timeout=timeout, log=log, **export_options)


def _without_full_int8(names: list[str] | None, gate: str, log: Any) -> list[str]:
    """The variants to export without data: full int8 is skipped (nothing to calibrate on), said aloud."""
    from edgelstm.core.variants import parse_variants

    wanted = [spec.name for spec in parse_variants(names)]
    if names and NO_DATA_SKIPS in wanted:
        raise ConfigError(f"{NO_DATA_SKIPS} is calibrated on real texts: give --data, or leave it out of --variants")
    log(f"no --data: {NO_DATA_SKIPS} is skipped (full int8 needs labelled texts to calibrate on) and accuracy is "
        f"not measured; every other variant is gated on {gate}")
    return [name for name in wanted if name != NO_DATA_SKIPS]


def write_run(source: ModelFile, scratch: Path, *, timeout: float = DEFAULT_TIMEOUT, log: Any = print) -> Path:
    """The run directory of `source`, under `scratch` and named after the model file; returns its path."""
    run = scratch / source.model.stem
    run.mkdir()
    architecture, head, vectorizer = _import_model(source.model, run / rundir.MODEL, scratch, timeout=timeout)
    tokenizer = build_tokenizer(source, maxlen=architecture["maxlen"], rows=architecture["vocab_size"],
                                vectorizer=vectorizer)
    if source.data is not None:
        corpus, validation, calibration = _data(source, tokenizer)
        labels, fingerprint, data = list(corpus.label_names), corpus.fingerprint(), source.data.name
        log(f"model file {source.model.name}: {architecture['layers']}, {architecture['maxlen']} tokens; "
            f"tokenizer: {source.tokenizer_source}; {len(validation['ids'])} rows of {data} to gate on, "
            f"{len(calibration['ids'])} kept apart for full-int8 calibration")
    else:
        validation = given_rows(tokenizer, _texts(source)) if source.texts else drawn_rows(tokenizer, DRAWN_ROWS,
                                                                                            seed=SEED)
        calibration = {"ids": validation["ids"][:2], "labels": validation["labels"][:2]}  # never used: no full int8
        labels, data = list(source.label_names), None  # type: ignore[arg-type]
        fingerprint = {"source": source.gate_source, "examples": int(len(validation["ids"]))}
        if source.texts:
            fingerprint["file_sha256"] = sha256_of(source.texts)
        log(f"model file {source.model.name}: {architecture['layers']}, {architecture['maxlen']} tokens; "
            f"tokenizer: {source.tokenizer_source}; {len(validation['ids'])} {source.gate_source} to gate on")
    _check_head(head, labels, source)
    config = {"imported": {"model_file": source.model.name, "model_file_sha256": sha256_of(source.model),
                           "tokenizer": source.tokenizer_source, "data": data,
                           **({"text_vectorization": _vectorizer_record(vectorizer)} if vectorizer else {}),
                           "texts": source.texts.name if source.texts else None, "gate": source.gate_source},
              "seed": SEED}
    metrics = {"labels": labels, "data": fingerprint,
               "validation": {"accuracy": None, "examples": int(len(validation["ids"]))}}
    rundir.write_files(run, tokenizer=tokenizer, config=config, metrics=metrics, validation=validation,
                       calibration=calibration)
    return run


def _import_model(model: Path, out: Path, work: Path, *,
                  timeout: float) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """Load the model file in a child process, check it is in the family, save it as model.keras (without
    a TextVectorization layer: ids in); returns its architecture, its head ({"output", "units"}) and its
    TextVectorization layer's settings and vocabulary (export/text_vectorization.py), or None."""
    job = Job("import_model", "import-model", {"model": str(model), "out": str(out)})
    try:
        result = run_job(job, work, timeout=timeout)
    except JobFailed as error:
        raise ExportError(f"cannot export {model}: {error}") from None
    return result["architecture"], result["head"], result.get("text_vectorization")


def _vectorizer_record(vectorizer: dict[str, Any]) -> dict[str, Any]:
    """What source_run.config.imported says of the TextVectorization layer (its vocabulary is tokenizer.json's)."""
    return {**{key: value for key, value in vectorizer.items() if key not in ("vocabulary", "maxlen")},
            "output_sequence_length": vectorizer["maxlen"], "vocabulary_size": len(vectorizer["vocabulary"]),
            "rule": RULE_TEXT_VECTORIZATION,
            "padding": POST, "truncating": POST}


def declares_text_vectorization(path: Path) -> bool:
    """True when a .keras file's config.json names a TextVectorization layer (read from the zip, without
    Keras); False for anything else (.h5, or a file that is no zip: the import job reports it)."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json").decode("utf-8"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    return _names_class(config, "TextVectorization")


def _names_class(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        return node.get("class_name") == name or any(_names_class(value, name) for value in node.values())
    return isinstance(node, list) and any(_names_class(value, name) for value in node)


def _check_head(head: dict[str, Any], labels: list[str], source: ModelFile) -> None:
    """One output per label (a sigmoid's one column is two labels), or a line saying what differs."""
    wanted = labels_of_width(head["units"])
    if wanted == len(labels):
        return
    where = "--label-names" if source.data is None or source.label_names else f"--data {source.data.name}"
    raise ConfigError(f"{source.model.name} ends in Dense({head['units']}, {head['output']}), which gives {wanted} "
                      f"labels, but {where} names {len(labels)} ({', '.join(labels)}): give one name per label")


def build_tokenizer(source: ModelFile, *, maxlen: int, rows: int,
                    vectorizer: dict[str, Any] | None = None) -> Tokenizer:
    """The tokenizer `source` names (or the model's TextVectorization layer, `vectorizer`), checked against
    the model's maxlen and embedding rows."""
    if vectorizer is not None:
        source.refuse_tokenizer_options()
        return _checked_rows(text_vectorization_tokenizer(vectorizer), rows, source)
    if not source.tokenizer_options:
        raise ConfigError(f"{source.model.name} has no TextVectorization layer: give its tokenizer with one of "
                          f"{', '.join(TOKENIZER_OPTIONS)}")
    if source.word_index is not None:
        tokenizer = Tokenizer.from_keras_word_index(_word_index(source.word_index),
                                                    num_words=source.num_words or rows, maxlen=maxlen)
    elif source.tokenizer is not None:
        tokenizer = Tokenizer.load(source.tokenizer)
    else:
        words = read_vocabulary(source.vocabulary)  # type: ignore[arg-type]
        tokenizer = Tokenizer(kind="vocab", maxlen=maxlen, vocab_size=len(words) + 2, words=words)
    if tokenizer.maxlen != maxlen:
        raise ConfigError(f"{source.tokenizer} pads to {tokenizer.maxlen} tokens but the model reads {maxlen}")
    if tokenizer.padding != "pre" or tokenizer.truncating != "pre":
        raise ConfigError(f"the tokenizer pads {tokenizer.padding!r} and truncates {tokenizer.truncating!r}: the "
                          "device models read texts padded and truncated at the front ('pre'), as Keras' "
                          "pad_sequences does by default")
    return _checked_rows(tokenizer, rows, source)


def _checked_rows(tokenizer: Tokenizer, rows: int, source: ModelFile) -> Tokenizer:
    if tokenizer.vocab_size > rows:
        raise ConfigError(f"the tokenizer gives ids up to {tokenizer.vocab_size - 1} but the model's embedding has "
                          f"{rows} rows: the two do not belong together" + (" (lower --num-words)"
                                                                           if source.word_index else ""))
    return tokenizer


def text_vectorization_tokenizer(vectorizer: dict[str, Any]) -> Tokenizer:
    """The runtime's tokenizer of a TextVectorization layer: its vocabulary (ids 0 '' and 1 '[UNK]' are padding
    and out-of-vocabulary, as in edgelstm), its rule, its length, padded and truncated at the end."""
    vocabulary = vectorizer["vocabulary"]
    return Tokenizer(kind="vocab", maxlen=vectorizer["maxlen"], vocab_size=len(vocabulary), words=vocabulary[2:],
                     rule=RULE_TEXT_VECTORIZATION, padding=POST, truncating=POST)


def _word_index(path: Path) -> dict[str, int]:
    import json

    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"cannot read the word index {path}: {error}") from None
    if not isinstance(index, dict) or not index or not all(
            isinstance(word, str) and isinstance(rank, int) and not isinstance(rank, bool) and rank >= 1
            for word, rank in index.items()):
        raise DataError(f"{path} must be a JSON object of word -> rank (1 = most frequent), as Keras' "
                        "imdb.get_word_index() returns")
    return index


def read_vocabulary(path: Path) -> list[str]:
    """Words of ids 2, 3, ...: one per line; a leading '' and '[UNK]' (TextVectorization's) are ids 0 and 1."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the vocabulary {path}: {error}") from None
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if tuple(lines[:2]) == TEXT_VECTORIZATION_HEAD:
        lines = lines[2:]
    words = [line.strip() for line in lines]
    empty = [number for number, word in enumerate(words, start=1) if not word]
    if empty or not words:
        raise DataError(f"{path}: one word per line is needed; line {empty[0] if empty else 1} is empty")
    if len(set(words)) != len(words):
        raise DataError(f"{path}: a word appears twice; each line must hold a different word")
    return words


def drawn_rows(tokenizer: Tokenizer, rows: int, *, seed: int) -> dict[str, np.ndarray]:
    """Unlabelled rows of in-vocabulary ids, lengths spread over 1..maxlen, padded on the side the tokenizer
    pads (a TextVectorization layer's after the ids; a keras-imdb row starts with its start marker, as an
    encoded text does)."""
    rng = np.random.default_rng(seed)
    first = KERAS_INDEX_FROM + 1 if tokenizer.kind == "keras-imdb" else VOCAB_OOV_ID + 1  # the first word's id
    maxlen = tokenizer.maxlen
    lengths = np.linspace(1, maxlen, rows).round().astype(np.int32)
    ids = np.zeros((rows, maxlen), np.int32)
    for row, length in enumerate(lengths):
        words = rng.integers(first, tokenizer.vocab_size, length)
        if tokenizer.kind == "keras-imdb":
            words[0] = KERAS_START_ID
        ids[row] = pad_ids(words.tolist(), maxlen, padding=tokenizer.padding, truncating=tokenizer.truncating)
    return {"ids": ids, "labels": np.full(rows, rundir.UNLABELLED, np.int8), "lengths": lengths}


def given_rows(tokenizer: Tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    """Unlabelled rows of the user's texts, encoded by the bundle's tokenizer, with the raw texts (the mobile
    variants are checked on them in MediaPipe)."""
    ids, lengths = tokenizer.encode_with_lengths(texts)
    return {"ids": ids, "labels": np.full(len(texts), rundir.UNLABELLED, np.int8), "lengths": lengths,
            **textarrays.pack(texts)}


def _texts(source: ModelFile) -> list[str]:
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.sources import load_texts

    return load_texts(TrainConfig(data=str(source.texts), text_column=source.text_column,
                                  encoding=source.encoding))


def _data(source: ModelFile, tokenizer: Tokenizer) -> tuple[Any, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(corpus, validation arrays, calibration arrays): the labelled rows, split class-balanced and seeded."""
    from edgelstm.train.config import TrainConfig
    from edgelstm.train.prepare import balanced_indices, encode
    from edgelstm.train.sources import load_corpus

    names = tuple(source.label_names) if source.label_names else None
    config = TrainConfig(data=str(source.data), text_column=source.text_column, label_column=source.label_column,
                         label_names=names, encoding=source.encoding)  # type: ignore[arg-type]
    corpus = load_corpus(config)
    if corpus.texts is None:
        raise ConfigError(f"--data {source.data} holds ids, not texts: give labelled texts the tokenizer can encode")
    encoded = encode(corpus, tokenizer)
    size = min(CALIBRATION_ROWS, int(len(encoded.labels) * CALIBRATION_SHARE))
    if size < 2:
        raise DataError(f"--data {source.data} has {len(encoded.labels)} rows: at least 10 are needed "
                        "(a fifth, at most 256, is kept apart for full-int8 calibration)")
    calibration = balanced_indices(encoded.labels, size, seed=SEED)
    rest = np.setdiff1d(np.arange(len(encoded.labels)), calibration)
    validation = {"ids": encoded.ids[rest], "labels": encoded.labels[rest], "lengths": encoded.lengths[rest],
                  # the raw texts too: export checks the mobile variants on them through MediaPipe's tokenizer
                  **textarrays.pack([corpus.texts[int(i)] for i in rest])}
    return corpus, validation, {"ids": encoded.ids[calibration], "labels": encoded.labels[calibration]}
