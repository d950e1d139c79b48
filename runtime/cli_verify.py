"""`edgelstm verify BUNDLE`: does every variant still match Keras on this device?

Needs only the runtime (numpy plus whichever interpreters are installed).
Exit status: 0 when every check that ran is within tolerance, 1 when one is
not (or nothing could run), 2 for an unusable bundle or argument.
"""

from __future__ import annotations

import argparse
import json

from edgelstm.runtime.backends.base import BACKENDS

EXAMPLES = """examples:
  edgelstm verify bundles/demo
  edgelstm verify bundles/demo --backend numpy --variant tflite-fp32,onnx-fp32
  edgelstm verify bundles/demo --json > verify.json
  edgelstm verify bundles/demo --key keys/publisher.pub
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("bundle", help="bundle folder written by `edgelstm export`")
    parser.add_argument("--variant", action="append", metavar="NAME[,NAME]",
                        help="check only these variants (repeatable; default: every passed variant)")
    parser.add_argument("--backend", action="append", metavar="NAME[,NAME]",
                        help=f"check only these backends ({', '.join(BACKENDS)}; default: every installed one)")
    parser.add_argument("--threads", type=int, default=None,
                        help="row workers across the golden set, each interpreter on 1 thread "
                             "(default: one per core; results do not depend on it)")
    parser.add_argument("--key", action="append", metavar="NAME.pub",
                        help="trusted publisher key (repeatable): refuse the bundle unless one of them signed it")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")


def run(args: argparse.Namespace) -> int:
    from edgelstm.core.errors import ConfigError
    from edgelstm.runtime.verify import format_report, verify_bundle

    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    report = verify_bundle(args.bundle, variants=args.variant, backends=args.backend, threads=args.threads,
                           trusted_keys=args.key)
    print(json.dumps(report.to_dict(), indent=1) if args.json else format_report(report))
    return 0 if report.passed else 1
