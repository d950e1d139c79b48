"""Who made a bundle: an Ed25519 signature over the exact bytes of its manifest.json.

The manifest lists every file of the bundle with its sha256, so a signature over the
manifest covers every file and every field. A device given trusted keys checks the
signature before it parses anything: an unsigned bundle, a bundle signed by another
key, or one whose manifest changed by one byte since it was signed is refused.

Plain Ed25519 through the `cryptography` package (`pip install 'edgelstm[sign]'`,
wheels for aarch64 included) rather than the OpenSSF `model-signing` package: keys
stay offline files, nothing else is pulled in (model-signing brings sigstore, its
network clients and their dependencies onto the device), and the signed document is
the manifest the runtime already checks every file against. See docs/contracts.md.

    signature.json  {"format": "edgelstm-ed25519-v1", "key_id": hex, "signature": base64}
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgelstm.core.errors import BundleError, ConfigError

SIGNATURE = "signature.json"
FORMAT = "edgelstm-ed25519-v1"
# Domain separation: a signature made for a bundle manifest means nothing elsewhere.
CONTEXT = b"edgelstm bundle manifest, ed25519, v1\n"
MAX_SIGNATURE_BYTES = 4096
MAX_KEY_BYTES = 16384
INSTALL_HINT = "pip install 'edgelstm[sign]'"
KeySource = str | os.PathLike | bytes | Any  # a PEM file's path, PEM bytes, or an Ed25519 key object


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise ConfigError(f"signatures need the cryptography package: {INSTALL_HINT}") from None
    return ed25519


def _serialization() -> Any:
    _ed25519()
    from cryptography.hazmat.primitives import serialization

    return serialization


def key_id(public_key: Any) -> str:
    """The first 16 hex digits of sha256 over the raw 32-byte public key: a name for the key."""
    raw = public_key.public_bytes(_serialization().Encoding.Raw, _serialization().PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _pem(source: KeySource, what: str) -> bytes:
    if isinstance(source, bytes):
        return source
    path = Path(source)
    try:
        if path.stat().st_size > MAX_KEY_BYTES:
            raise ConfigError(f"{what} {path} is larger than {MAX_KEY_BYTES} bytes: not a PEM key")
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror}") from None


def load_public_key(source: KeySource) -> Any:
    """An Ed25519 public key from a PEM file (`edgelstm keygen`'s .pub), PEM bytes or a key object."""
    ed25519 = _ed25519()
    if isinstance(source, ed25519.Ed25519PublicKey):
        return source
    if isinstance(source, ed25519.Ed25519PrivateKey):
        return source.public_key()
    try:
        key = _serialization().load_pem_public_key(_pem(source, "public key"))
    except ValueError as error:
        raise ConfigError(f"{_shown(source)} is not a PEM public key ({error}): pass the .pub file "
                          "written by `edgelstm keygen`") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ConfigError(f"{_shown(source)} is a {type(key).__name__}: edgelstm signs with Ed25519 keys "
                          "(`edgelstm keygen`)")
    return key


def load_private_key(source: KeySource) -> Any:
    """An Ed25519 private key from an unencrypted PKCS#8 PEM file (`edgelstm keygen`'s .key)."""
    ed25519 = _ed25519()
    if isinstance(source, ed25519.Ed25519PrivateKey):
        return source
    try:
        key = _serialization().load_pem_private_key(_pem(source, "private key"), password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{_shown(source)} is not an unencrypted PEM private key ({error}): pass the .key "
                          "file written by `edgelstm keygen`") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigError(f"{_shown(source)} is a {type(key).__name__}: edgelstm signs with Ed25519 keys")
    return key


def _shown(source: KeySource) -> str:
    return "the key bytes" if isinstance(source, bytes) else str(source)


def generate_key(prefix: str | Path) -> tuple[Path, Path]:
    """Write PREFIX.key (private, mode 0600) and PREFIX.pub; refuse to overwrite either."""
    serialization = _serialization()
    private = _ed25519().Ed25519PrivateKey.generate()
    private_path, public_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise ConfigError(f"{path} already exists: keys are never overwritten; choose another name")
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public_path.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path


def sign_manifest(manifest_bytes: bytes, private_key: KeySource) -> bytes:
    """signature.json's bytes for these manifest bytes."""
    key = load_private_key(private_key)
    record = {"format": FORMAT, "key_id": key_id(key.public_key()),
              "signature": base64.b64encode(key.sign(CONTEXT + manifest_bytes)).decode("ascii")}
    return (json.dumps(record, indent=1) + "\n").encode("utf-8")


def trusted(keys: Iterable[KeySource] | KeySource | None) -> dict[str, Any] | None:
    """Trusted public keys by key id, or None when no key is configured (signatures not required)."""
    if keys is None:
        return None
    if isinstance(keys, (str, bytes, os.PathLike)) or not isinstance(keys, Iterable):
        keys = [keys]
    loaded = [load_public_key(key) for key in keys]
    if not loaded:
        raise ConfigError("trusted_keys is empty: pass at least one public key, or None to accept unsigned bundles")
    return {key_id(key): key for key in loaded}


def check_signature(manifest_bytes: bytes, signature_bytes: bytes | None, keys: dict[str, Any], *,
                    where: str) -> str:
    """The key id that signed these manifest bytes, or a BundleError; nothing else is read meanwhile."""
    if signature_bytes is None:
        raise BundleError(f"{where} is not signed ({SIGNATURE} is missing) and this device accepts only bundles "
                          f"signed by {_names(keys)}: ask the publisher for a signed bundle (`edgelstm sign`)")
    record = _signature_record(signature_bytes, where)
    key = keys.get(record["key_id"])
    if key is None:
        raise BundleError(f"{where} is signed by key {record['key_id']}, which is not trusted here "
                          f"(trusted: {_names(keys)}): refused")
    try:
        signature = base64.b64decode(record["signature"], validate=True)
    except ValueError:
        raise BundleError(f"{where}: the signature in {SIGNATURE} is not base64: refused") from None
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, CONTEXT + manifest_bytes)
    except InvalidSignature:
        raise BundleError(f"{where}: the signature of key {record['key_id']} does not match manifest.json: "
                          "the bundle was changed after it was signed; refused") from None
    return record["key_id"]


def _signature_record(data: bytes, where: str) -> dict[str, str]:
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        record = None
    if (not isinstance(record, dict) or record.get("format") != FORMAT
            or not all(isinstance(record.get(key), str) for key in ("key_id", "signature"))):
        raise BundleError(f"{where}: {SIGNATURE} is not an {FORMAT} signature (a JSON object with format, "
                          "key_id and signature): refused")
    return record


def _names(keys: dict[str, Any]) -> str:
    return ", ".join(sorted(keys))
