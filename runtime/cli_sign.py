"""`edgelstm sign BUNDLE --key NAME.key`: a publisher's signature on a bundle (keys: `edgelstm keygen`).

A device that loads with trusted keys (`Classifier.load(..., trusted_keys=[...])`,
`edgelstm predict/verify --key NAME.pub`) then refuses any bundle not signed by one
of them. Keep the .key file offline; ship the .pub file with the app.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

SIGN_EXAMPLES = """examples:
  edgelstm sign bundles/demo --key keys/publisher.key
  edgelstm verify bundles/demo --key keys/publisher.pub
  edgelstm predict bundles/demo --key keys/publisher.pub "a quietly wonderful film"
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = SIGN_EXAMPLES
    parser.add_argument("bundle", help="bundle folder written by `edgelstm export` (or `edgelstm slim`)")
    parser.add_argument("--key", required=True, metavar="NAME.key", help="Ed25519 private key from `edgelstm keygen`")


def run(args: argparse.Namespace) -> int:
    bundle, key_id = sign_bundle(args.bundle, args.key)
    print(f"signed {bundle} with key {key_id}: devices trusting it load it with --key / trusted_keys")
    return 0


def sign_bundle(bundle: str | Path, key: object) -> tuple[Path, str]:
    """Check every file of the bundle, then write its signature.json over manifest.json's bytes."""
    from edgelstm.runtime import signing
    from edgelstm.runtime.bundle import Bundle

    private = signing.load_private_key(key)
    # Never vouch for a bundle that is not intact: every file is checked against exactly the
    # manifest bytes that get signed.
    opened = Bundle.open(bundle, check_files=True)
    _write_atomically(opened.root / signing.SIGNATURE, signing.sign_manifest(opened.manifest_bytes, private))
    return opened.root, signing.key_id(private.public_key())


def _write_atomically(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
