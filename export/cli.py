"""`edgelstm export RUN|MODEL --out BUNDLE`: convert a run (or a Keras model file) to TFLite and ONNX
variants in one checked bundle.

Light at import: the pipeline runs TensorFlow only in its child processes.
"""

from __future__ import annotations

import argparse

from edgelstm.core.variants import FAMILY_LEADS, PREFERENCE, UNSUPPORTED_MODES, VARIANTS
from edgelstm.export.defaults import DEFAULT_HELD_OUT
from edgelstm.export.jobs import DEFAULT_TIMEOUT
from edgelstm.runtime.cli_options import names

EPILOG = f"""variants: {', '.join(VARIANTS)} (default: all)
preferred on a device, best first: {', '.join(PREFERENCE)}
  (a stack with {' or '.join(f'a {feature.upper()} layer, {lead}' for feature, lead in FAMILY_LEADS.items())} first)
not possible for an LSTM: {', '.join(UNSUPPORTED_MODES)}

Every variant is run on its device interpreter (ai-edge-litert, onnxruntime) over
held-out validation texts plus edge cases and compared with the Keras model. The bundle
holds the variants that pass; one that fails to convert or misses its bound
(edgelstm.core.variants) is left out and listed as rejected, with its reason, in
the manifest, the model card and the output.

exit status: 0 every variant passed; 3 the bundle was written without the rejected
variants; 1 nothing was written (no variant passed, or --strict and one failed);
2 a bad argument or run directory.

A Keras model file (.keras, or the legacy .h5) is exported like a run: give its tokenizer
(--word-index for the Keras IMDB encoding, --tokenizer, or --vocabulary; none for a model whose
TextVectorization layer reads raw strings: that layer is the tokenizer) and labelled texts
it did not train on (--data, any format `edgelstm train` reads) to gate the variants on and
to calibrate full int8 with (docs/family.md, "Exporting a model file"); without --data,
full int8 and accuracy are skipped and the rest is gated on your own unlabelled texts
(--texts FILE) or else on ids drawn from the vocabulary.

examples:
  edgelstm export out/demo/run --out out/demo/bundle
  edgelstm export out/demo/run --out out/demo/bundle --variants tflite-dynint8,onnx-dynint8 --force
  edgelstm export tutorial.keras --word-index ../shared/data/imdb/imdb_word_index.json \
      --data held_out.csv.gz --label-names neg,pos --out tutorial-bundle
  edgelstm export strings.keras --texts my_texts.txt --label-names neg,pos --out strings-bundle
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run", metavar="RUN|MODEL", help="run directory written by `edgelstm train`, or a Keras "
                                                         "model file (.keras, .h5) with the options below")
    parser.add_argument("--out", required=True, help="bundle folder to create")
    parser.add_argument("--variants", "--variant", dest="variants", type=names, action="extend",
                        metavar="NAME[,NAME]",
                        help=f"variants to build (repeatable, comma-separated; default: all {len(VARIANTS)})")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing bundle at --out (only once the new one is complete)")
    parser.add_argument("--strict", action="store_true",
                        help="any failed variant fails the export and nothing is written (for CI)")
    parser.add_argument("--keep-failed", action="store_true",
                        help="keep variants over their parity bound in the bundle, marked failed and never the default")
    parser.add_argument("--held-out", type=_positive_int, default=DEFAULT_HELD_OUT, metavar="N",
                        help=f"validation texts in the evaluation set (default {DEFAULT_HELD_OUT}; all if fewer)")
    choices = "; ".join(f"{name}: {', '.join(spec.route_names)}" for name, spec in VARIANTS.items()
                        if len(spec.routes) > 1)
    parser.add_argument("--route", action="append", metavar="VARIANT=ROUTE",
                        help=f"build a variant by another graph route than its default ({choices})")
    parser.add_argument("--job-timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"give up on one conversion after this long (default {DEFAULT_TIMEOUT:.0f})")
    group = parser.add_argument_group("a Keras model file instead of a run directory")
    group.add_argument("--word-index", metavar="JSON", help="the Keras IMDB encoding: this word -> rank index "
                       "(imdb_word_index.json); ids are ranks + 3, 1 = start, 2 = out-of-vocabulary")
    group.add_argument("--num-words", type=_positive_int, metavar="N",
                       help="Keras' num_words for --word-index (default: the model's embedding rows)")
    group.add_argument("--tokenizer", metavar="JSON", help="an edgelstm tokenizer.json")
    group.add_argument("--vocabulary", metavar="FILE", help="one word per line, ids 2, 3, ... in order (0 padding, "
                       "1 unknown; TextVectorization.get_vocabulary()'s '' and '[UNK]' lines are read as those)")
    group.add_argument("--data", metavar="FILE", help="labelled texts the model did not train on (CSV, JSONL, a "
                       "folder: what `edgelstm train --data` reads): the parity gate's rows and full-int8 calibration")
    group.add_argument("--texts", metavar="FILE", help="without --data: unlabelled texts to gate the variants on "
                       "(one per line, or the --text-column of a CSV/JSONL file; default: ids drawn from the "
                       "vocabulary); the mobile variants are also checked on them as raw text")
    group.add_argument("--text-column", default="text", help="CSV column / JSONL key of the text (default text)")
    group.add_argument("--label-column", default="label", help="CSV column / JSONL key of the label (default label)")
    group.add_argument("--label-names", type=_label_names, metavar="NAME0,NAME1[,...]",
                       help="names of label 0, 1, ... in the order of the model's outputs (or the data's label "
                            "values in that order); one per output of a Dense(C, softmax) head, two for Dense(1)")
    group.add_argument("--encoding", default="utf-8", help="text encoding of --data (default utf-8)")


def _label_names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(","))


MODEL_FILE_OPTIONS = ("word_index", "num_words", "tokenizer", "vocabulary", "data", "texts", "label_names")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _model_file(args: argparse.Namespace):  # noqa: ANN202 - a ModelFile, imported only when needed
    """The model file to export, or None for a run directory (which takes none of the model-file options)."""
    from pathlib import Path

    from edgelstm.core.errors import ConfigError
    from edgelstm.export.model_file import MODEL_SUFFIXES, ModelFile

    path = Path(args.run)
    given = [f"--{name.replace('_', '-')}" for name in MODEL_FILE_OPTIONS if getattr(args, name) is not None]
    if path.is_dir() or path.suffix.lower() not in MODEL_SUFFIXES:
        if given:
            raise ConfigError(f"{', '.join(given)} belong to a Keras model file ({', '.join(MODEL_SUFFIXES)}); "
                              f"{path} is read as a run directory, which has its own tokenizer, labels and data")
        return None
    return ModelFile(model=path, data=_path(args.data), texts=_path(args.texts), word_index=_path(args.word_index),
                     num_words=args.num_words,
                     tokenizer=_path(args.tokenizer), vocabulary=_path(args.vocabulary),
                     label_names=args.label_names, text_column=args.text_column, label_column=args.label_column,
                     encoding=args.encoding)


def _path(value: str | None):  # noqa: ANN202
    from pathlib import Path

    return Path(value) if value is not None else None


# Exit status of an export that wrote a bundle without some variants.
EXIT_PARTIAL = 3


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from edgelstm.export.pipeline import export_run
    from edgelstm.runtime.bundle import read_manifest

    if args.strict and args.keep_failed:
        from edgelstm.core.errors import ConfigError

        raise ConfigError("--strict and --keep-failed contradict each other: give one")
    options = dict(variants=args.variants, routes=args.route, force=args.force, keep_failed=args.keep_failed,
                   strict=args.strict, held_out=args.held_out, timeout=args.job_timeout,
                   log=lambda line: print(line, flush=True))
    source = _model_file(args)
    if source is not None:
        from edgelstm.export.model_file import export_model_file

        target = export_model_file(source, args.out, **options)
    else:
        target = export_run(args.run, args.out, **options)
    manifest = read_manifest(Path(target))
    left_out = [*manifest.rejected, *(name for name, entry in manifest.variants.items() if not entry.passed)]
    if not left_out:
        return 0
    print(f"edgelstm: warning: {len(left_out)} variant(s) did not pass ({', '.join(left_out)}): the bundle at "
          f"{target} holds the others; exit status {EXIT_PARTIAL} (--strict makes this a failure)", file=sys.stderr)
    return EXIT_PARTIAL
