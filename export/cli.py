"""`edgelstm export RUN --out BUNDLE`: convert a run to TFLite and ONNX variants in one checked bundle.

Light at import: the pipeline runs TensorFlow only in its child processes.
"""

from __future__ import annotations

import argparse

from edgelstm.core.variants import PREFERENCE, UNSUPPORTED_MODES, VARIANTS
from edgelstm.export.defaults import DEFAULT_HELD_OUT
from edgelstm.export.jobs import DEFAULT_TIMEOUT

EPILOG = f"""variants: {', '.join(VARIANTS)} (default: all)
preferred on a device, best first: {', '.join(PREFERENCE)}
not possible for an LSTM: {', '.join(UNSUPPORTED_MODES)}

Every variant is run on its device interpreter (ai-edge-litert, onnxruntime) over
held-out validation texts plus edge cases and compared with the Keras model; one
over its bound (edgelstm.core.variants) fails the export unless --keep-failed.

examples:
  edgelstm export runs/demo --out bundles/demo
  edgelstm export runs/demo --out bundles/demo --variants tflite-dynint8,onnx-dynint8 --force
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run", metavar="RUN", help="run directory written by `edgelstm train`")
    parser.add_argument("--out", required=True, help="bundle folder to create")
    parser.add_argument("--variants", nargs="+", metavar="VARIANT",
                        help=f"variants to build, space- or comma-separated (default: all {len(VARIANTS)})")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing bundle at --out (only once the new one is complete)")
    parser.add_argument("--keep-failed", action="store_true",
                        help="write the bundle even if variants fail; failed ones are marked and never the default")
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


def run(args: argparse.Namespace) -> int:
    from edgelstm.export.pipeline import export_run

    export_run(args.run, args.out, variants=args.variants, routes=args.route, force=args.force,
               keep_failed=args.keep_failed, held_out=args.held_out, timeout=args.job_timeout,
               log=lambda line: print(line, flush=True))
    return 0
