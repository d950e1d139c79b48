"""`edgelstm slim BUNDLE --variant NAME[,NAME] --out SMALLER`: a bundle holding only the chosen variants.

Light at import, like every verb: `edgelstm --help` loads no numpy; the work is edgelstm.export.slim's.
"""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  edgelstm slim bundles/demo --variant tflite-fp32 --out bundles/demo-phone
  edgelstm slim bundles/demo --variant onnx-fp32,onnx-dynint8 --out bundles/demo-pi --key keys/publisher.key
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("bundle", help="bundle folder written by `edgelstm export`")
    parser.add_argument("--variant", "--variants", dest="variants", action="append", required=True,
                        metavar="NAME[,NAME]", help="variants to keep (repeatable)")
    parser.add_argument("--out", required=True, help="folder of the new bundle")
    parser.add_argument("--force", action="store_true", help="replace an existing bundle at --out")
    parser.add_argument("--key", metavar="NAME.key", help="sign the new bundle with this private key")


def run(args: argparse.Namespace) -> int:
    from edgelstm.export.slim import slim_bundle

    slim_bundle(args.bundle, args.out, variants=args.variants, force=args.force, key=args.key)
    return 0
