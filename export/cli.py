"""`edgelstm export RUN --out BUNDLE`: convert a run to TFLite and ONNX variants in one checked bundle.

Light at import: the pipeline runs TensorFlow only in its child processes.
"""

from __future__ import annotations

import argparse

from edgelstm.core.variants import PREFERENCE, UNSUPPORTED_MODES, VARIANTS
from edgelstm.export.defaults import DEFAULT_HELD_OUT
from edgelstm.export.jobs import DEFAULT_TIMEOUT
from edgelstm.runtime.cli_options import names

EPILOG = f"""variants: {', '.join(VARIANTS)} (default: all)
preferred on a device, best first: {', '.join(PREFERENCE)}
not possible for an LSTM: {', '.join(UNSUPPORTED_MODES)}

Every variant is run on its device interpreter (ai-edge-litert, onnxruntime) over
held-out validation texts plus edge cases and compared with the Keras model. The bundle
holds the variants that pass; one that fails to convert or misses its bound
(edgelstm.core.variants) is left out and listed as rejected, with its reason, in
the manifest, the model card and the output.

exit status: 0 every variant passed; 3 the bundle was written without the rejected
variants; 1 nothing was written (no variant passed, or --strict and one failed);
2 a bad argument or run directory.

examples:
  edgelstm export out/demo/run --out out/demo/bundle
  edgelstm export out/demo/run --out out/demo/bundle --variants tflite-dynint8,onnx-dynint8 --force
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run", metavar="RUN", help="run directory written by `edgelstm train`")
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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
    target = export_run(args.run, args.out, variants=args.variants, routes=args.route, force=args.force,
                        keep_failed=args.keep_failed, strict=args.strict, held_out=args.held_out,
                        timeout=args.job_timeout, log=lambda line: print(line, flush=True))
    manifest = read_manifest(Path(target))
    left_out = [*manifest.rejected, *(name for name, entry in manifest.variants.items() if not entry.passed)]
    if not left_out:
        return 0
    print(f"edgelstm: warning: {len(left_out)} variant(s) did not pass ({', '.join(left_out)}): the bundle at "
          f"{target} holds the others; exit status {EXIT_PARTIAL} (--strict makes this a failure)", file=sys.stderr)
    return EXIT_PARTIAL
