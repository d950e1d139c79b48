"""`edgelstm keygen NAME`: an Ed25519 key pair for signing bundles (`edgelstm sign`)."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """examples:
  edgelstm keygen keys/publisher          # writes keys/publisher.key (private) and keys/publisher.pub
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("name", help="path prefix: NAME.key (private, mode 0600) and NAME.pub are written")


def run(args: argparse.Namespace) -> int:
    from edgelstm.runtime import signing

    Path(args.name).parent.mkdir(parents=True, exist_ok=True)
    private, public = signing.generate_key(args.name)
    key = signing.load_public_key(public)
    print(f"wrote {private} (keep it offline) and {public} (key id {signing.key_id(key)}; give it to devices)")
    return 0
