"""Signed bundles: a device with trusted keys refuses what its publisher did not sign.

Real Ed25519 keys (cryptography), the real tiny bundle, the real CLI. Tampering is
done the way an attacker with write access would: any byte of any file, any field of
the manifest with the checksums left consistent, the signature itself.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cryptography", reason="signing needs the cryptography package: pip install 'edgelstm[sign]'")

from edgelstm.runtime import Bundle, BundleError, Classifier, signing  # noqa: E402
from edgelstm.runtime.cli_sign import sign_bundle  # noqa: E402
from edgelstm.runtime.verify import verify_bundle  # noqa: E402

TEXTS = ["a wonderful film, i loved it", "dull and tedious, a waste of an evening", ""]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    publisher = signing.generate_key(folder / "publisher")
    stranger = signing.generate_key(folder / "stranger")
    return {"key": publisher[0], "pub": publisher[1], "stranger_key": stranger[0], "stranger_pub": stranger[1]}


@pytest.fixture()
def signed(bundle_copy: Path, keys: dict[str, Path]) -> Path:
    sign_bundle(bundle_copy, keys["key"])
    return bundle_copy


def _edgelstm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgelstm", *args], capture_output=True, text=True, timeout=300)


def _one_line_refusal(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgelstm: error:") and needle in lines[0], result.stderr


def test_keygen_sign_verify_and_predict_with_the_key_on_the_command_line(bundle_copy: Path, tmp_path: Path) -> None:
    made = _edgelstm("keygen", str(tmp_path / "keys" / "pub"))
    assert made.returncode == 0, made.stderr
    private, public = tmp_path / "keys" / "pub.key", tmp_path / "keys" / "pub.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    assert _edgelstm("keygen", str(tmp_path / "keys" / "pub")).returncode == 2  # never overwrites a key
    unsigned = _edgelstm("predict", str(bundle_copy), "good", "--key", str(public))
    _one_line_refusal(unsigned, "is not signed")
    signed = _edgelstm("sign", str(bundle_copy), "--key", str(private))
    assert signed.returncode == 0, signed.stderr
    checked = _edgelstm("verify", str(bundle_copy), "--key", str(public), "--backend", "numpy")
    assert checked.returncode == 0 and "signature of trusted key" in checked.stdout, checked.stdout + checked.stderr
    predicted = _edgelstm("predict", str(bundle_copy), "a wonderful film", "--key", str(public), "--json")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["label"] in ("neg", "pos")


def test_a_signed_bundle_loads_with_its_key_and_gives_the_same_answers(signed: Path, keys: dict[str, Path]) -> None:
    with Classifier.load(signed, backend="numpy") as plain:
        expected = plain.predict_proba(TEXTS)
    with Classifier.load(signed, backend="numpy", trusted_keys=[keys["pub"]]) as trusted:
        assert trusted.bundle.signed_by == signing.key_id(signing.load_public_key(keys["pub"]))
        np.testing.assert_array_equal(trusted.predict_proba(TEXTS), expected)


def test_no_signature_with_keys_configured_is_refused(bundle_copy: Path, keys: dict[str, Path]) -> None:
    with pytest.raises(BundleError, match="is not signed"):
        Classifier.load(bundle_copy, trusted_keys=keys["pub"])


def test_a_bundle_signed_by_another_key_is_refused(bundle_copy: Path, keys: dict[str, Path]) -> None:
    sign_bundle(bundle_copy, keys["stranger_key"])
    with pytest.raises(BundleError, match="which is not trusted here"):
        Classifier.load(bundle_copy, trusted_keys=[keys["pub"]])
    # A stranger's signature relabelled with the publisher's key id does not verify either.
    record = json.loads((bundle_copy / signing.SIGNATURE).read_text())
    record["key_id"] = signing.key_id(signing.load_public_key(keys["pub"]))
    (bundle_copy / signing.SIGNATURE).write_text(json.dumps(record))
    with pytest.raises(BundleError, match="does not match manifest.json"):
        Classifier.load(bundle_copy, trusted_keys=[keys["pub"]])


def test_reversed_labels_with_consistent_checksums_are_refused_only_with_keys(signed: Path,
                                                                              keys: dict[str, Path]) -> None:
    """The issue's attack: integrity alone accepts it, the signature does not."""
    manifest = json.loads((signed / "manifest.json").read_text())
    manifest["task"]["labels"].reverse()
    (signed / "manifest.json").write_text(json.dumps(manifest, indent=1))
    with Classifier.load(signed, backend="numpy") as unguarded:
        assert unguarded.labels == manifest["task"]["labels"]
    with pytest.raises(BundleError, match="changed after it was signed"):
        Classifier.load(signed, trusted_keys=[keys["pub"]])
    with pytest.raises(BundleError, match="changed after it was signed"):
        verify_bundle(signed, trusted_keys=[keys["pub"]])


def test_one_flipped_byte_anywhere_in_the_manifest_or_signature_is_refused(signed: Path,
                                                                           keys: dict[str, Path]) -> None:
    rng = random.Random(14)
    for name in ("manifest.json", signing.SIGNATURE):
        original = (signed / name).read_bytes()
        for position in rng.sample(range(len(original)), 25):
            damaged = bytearray(original)
            damaged[position] ^= 1 << rng.randrange(8)
            (signed / name).write_bytes(bytes(damaged))
            with pytest.raises(BundleError):
                Bundle.open(signed, trusted_keys=[keys["pub"]])
        (signed / name).write_bytes(original)
    Bundle.open(signed, trusted_keys=[keys["pub"]])


def test_one_flipped_byte_in_any_file_is_refused_by_verify_and_by_the_load_that_reads_it(
        signed: Path, keys: dict[str, Path]) -> None:
    """Load reads only its variant's files: a damaged other file is refused by verify and never used."""
    with Classifier.load(signed, variant="tflite-fp32", backend="numpy") as reference:
        expected = reference.predict_proba(TEXTS)
    with Classifier.load(signed, variant="tflite-fp32", backend="numpy") as probe:
        read_by_load = {"tokenizer.json", *probe.bundle.files_of("tflite-fp32", numpy=True)}
    manifest = json.loads((signed / "manifest.json").read_text())
    for name in manifest["files"]:
        original = (signed / name).read_bytes()
        damaged = bytearray(original)
        damaged[len(damaged) // 3] ^= 0x10
        (signed / name).write_bytes(bytes(damaged))
        with pytest.raises(BundleError, match=name):
            verify_bundle(signed, trusted_keys=[keys["pub"]], backends=["numpy"])
        if name in read_by_load:
            with pytest.raises(BundleError, match=name):
                Classifier.load(signed, variant="tflite-fp32", backend="numpy", trusted_keys=[keys["pub"]])
        else:
            with Classifier.load(signed, variant="tflite-fp32", backend="numpy", trusted_keys=[keys["pub"]]) as loaded:
                np.testing.assert_array_equal(loaded.predict_proba(TEXTS), expected)
        (signed / name).write_bytes(original)


def test_with_keys_nothing_is_parsed_before_the_signature_is_checked(signed: Path, keys: dict[str, Path]) -> None:
    (signed / "manifest.json").write_bytes(b"{" * 100_000)  # would be a parse error, if it were parsed
    with pytest.raises(BundleError, match="changed after it was signed"):
        Bundle.open(signed, trusted_keys=[keys["pub"]])
    (signed / signing.SIGNATURE).unlink()
    with pytest.raises(BundleError, match="is not signed"):
        Bundle.open(signed, trusted_keys=[keys["pub"]])


def test_an_open_bundle_not_checked_with_the_keys_is_not_accepted_as_trusted(signed: Path,
                                                                             keys: dict[str, Path]) -> None:
    with pytest.raises(BundleError, match="without a signature check"):
        Classifier.load(Bundle.open(signed), trusted_keys=[keys["pub"]])
    with Classifier.load(Bundle.open(signed, trusted_keys=[keys["pub"]]), trusted_keys=[keys["pub"]], backend="numpy"):
        pass


def test_keys_that_are_not_ed25519_public_keys_are_refused_clearly(tmp_path: Path, keys: dict[str, Path]) -> None:
    from edgelstm.core.errors import ConfigError

    (tmp_path / "junk.pub").write_text("not a key")
    with pytest.raises(ConfigError, match="is not a PEM public key"):
        signing.trusted([tmp_path / "junk.pub"])
    with pytest.raises(ConfigError, match="cannot read public key"):
        signing.trusted([tmp_path / "missing.pub"])
    with pytest.raises(ConfigError, match="is not a PEM public key"):
        signing.trusted([keys["key"]])  # the private key file where the public one belongs
    with pytest.raises(ConfigError, match="trusted_keys is empty"):
        signing.trusted([])
