"""`edgelstm verify BUNDLE`: does every variant still match Keras on this device?

Needs only the runtime (numpy plus whichever interpreters are installed).
Exit status: 0 when every check that ran is within tolerance, 1 when one is
not (or nothing could run), 2 for an unusable bundle or argument.
"""

from __future__ import annotations

import argparse
import json

from edgelstm.runtime import cli_options

EXAMPLES = """examples:
  edgelstm verify out/demo/bundle
  edgelstm verify out/demo/bundle --backend numpy --variant tflite-fp32,onnx-fp32
  edgelstm verify out/demo/bundle --json > verify.json
  edgelstm verify out/demo/bundle --key keys/publisher.pub
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("bundle", help="bundle folder written by `edgelstm export`")
    cli_options.add_variant_option(parser, many=True, help="check only these variants (default: every passed variant)")
    cli_options.add_backend_option(parser, many=True, help="check only these backends (default: every installed one)")
    cli_options.add_threads_option(parser, help="row workers across the golden set, each interpreter on 1 thread "
                                                "(0 or absent: one per core; results do not depend on it)")
    parser.add_argument("--key", action="append", metavar="NAME.pub",
                        help="trusted publisher key (repeatable): refuse the bundle unless one of them signed it")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")


def run(args: argparse.Namespace) -> int:
    from edgelstm.runtime.verify import format_report, verify_bundle

    report = verify_bundle(args.bundle, variants=args.variant, backends=args.backend, threads=args.threads,
                           trusted_keys=args.key)
    print(json.dumps(report.to_dict(), indent=1) if args.json else format_report(report))
    return 0 if report.passed else 1
