"""Hostile bundles, generated: each is refused with one clean line, or runs and answers rightly.

A seeded, bounded generator damages a copy of the real schema-1 fixture bundle the way a
hostile distribution channel or a careless user would: a manifest or tokenizer field set to a
hostile value (checksums kept consistent, as an attacker would), raw JSON that breaks parsers
(huge integers, deep nesting, NaN, invalid UTF-8), npz members that are pickles, declare huge
shapes, are 0-d or have the wrong width, symlinks, FIFOs, folders, deleted, truncated or
flipped files. Each case is then loaded through every backend and verified:

* unsigned, it must end in a BundleError (or another EdgeLSTMError) whose message is one
  line, or run without any other exception;
* signed before the damage and loaded with the publisher's key, it must be refused, or (when
  the damage touched nothing that load reads) give exactly the undamaged answers: never a
  wrong answer.

The counts are printed (`pytest -s`) for the report.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import io
import json
import os
import random
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgelstm.runtime import Classifier, EdgeLSTMError
from edgelstm.runtime.backends import base
from edgelstm.runtime.verify import verify_bundle

FIXTURE = Path(__file__).parent / "fixtures" / "schema1" / "bundle"
SEED, CASES = 14, 240
TEXTS = ["a wonderful film, i loved it", "dull and tedious, a waste of an evening", "", "good " * 100]
# (variant, backend) pairs each case is loaded with: every backend installed here.
LOADS = [(None, None), ("tflite-fp32", "litert"), ("onnx-fp32", "onnxruntime"), ("tflite-fp32", "numpy"),
         ("onnx-dynint8", "onnxruntime"), ("tflite-dynint8", "litert")]
HOSTILE_VALUES: list[Any] = [None, "", "yes", 0, -1, 5, 2 ** 70, 1.5, float("1e308"), True, [], {}, [1, 2],
                             ["a"], {"a": 1}, "x" * 4000, "../../etc/passwd", "/etc/hostname", [[[[]]]],
                             "model-tflite-fp32.tflite", "padding_states.npz", ["neg", "neg"], ["pos", "neg"]]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON value (keys and indexes), leaves and containers alike."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value[:4]):
            found += _paths(item, prefix + (index,))
    return found


def _set(document: Any, path: tuple, value: Any, *, delete: bool = False) -> None:
    for key in path[:-1]:
        document = document[key]
    if delete and isinstance(document, dict):
        del document[path[-1]]
    else:
        document[path[-1]] = value


def _recompute(bundle: Path, name: str) -> None:
    """Make the manifest's checksum of `name` match its new content, as an attacker would."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    data = (bundle / name).read_bytes()
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _huge_shape_npz(member: str) -> bytes:
    """An npz whose member declares an 80 GB float32 array and holds a few bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (200_000, 100_000)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{member}.npy", header.getvalue() + b"\0" * 64)
    return buffer.getvalue()


# --- the mutations: each takes (rng, bundle folder) and returns a short description ----------

def manifest_field(rng: random.Random, bundle: Path) -> str:
    manifest = json.loads((bundle / "manifest.json").read_text())
    path = rng.choice(_paths(manifest))
    value = copy.deepcopy(rng.choice(HOSTILE_VALUES))
    delete = rng.random() < 0.2
    _set(manifest, path, value, delete=delete)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return f"manifest {'/'.join(map(str, path))} {'deleted' if delete else '= ' + repr(value)[:30]}"


def tokenizer_field(rng: random.Random, bundle: Path) -> str:
    tokenizer = json.loads((bundle / "tokenizer.json").read_text())
    path = rng.choice(_paths(tokenizer))
    value = copy.deepcopy(rng.choice(HOSTILE_VALUES + [-5, 10 ** 6, ["good", "good"]]))
    _set(tokenizer, path, value)
    (bundle / "tokenizer.json").write_text(json.dumps(tokenizer))
    _recompute(bundle, "tokenizer.json")
    return f"tokenizer {'/'.join(map(str, path))} = {repr(value)[:30]}"


RAW_JSON = {
    "huge int": lambda text: text.replace('"maxlen": 32', '"maxlen": ' + "9" * 5000, 1).replace(
        '"maxlen":32', '"maxlen":' + "9" * 5000, 1),
    "deep nesting": lambda text: text[:-1].rstrip().rstrip("}") + ', "x": ' + "[" * 5000 + "]" * 5000 + "}",
    "NaN": lambda text: text.replace('"maxlen": 32', '"maxlen": NaN', 1).replace('"maxlen":32', '"maxlen":NaN', 1),
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "not an object": lambda text: "[1, 2, 3]",
}


def raw_json(rng: random.Random, bundle: Path) -> str:
    name = rng.choice(["manifest.json", "tokenizer.json"])
    kind = rng.choice(list(RAW_JSON) + ["invalid UTF-8", "BOM"])
    text = (bundle / name).read_text()
    if kind == "invalid UTF-8":
        data = text.encode()[:40] + b"\xff\xfe" + text.encode()[40:]
    elif kind == "BOM":
        data = b"\xef\xbb\xbf" + text.encode()
    else:
        data = RAW_JSON[kind](text).encode()
    (bundle / name).write_bytes(data)
    if name != "manifest.json":
        _recompute(bundle, name)
    return f"{name}: {kind}"


def npz_member(rng: random.Random, bundle: Path) -> str:
    name = rng.choice(["golden.npz", "weights.npz", "padding_states.npz"])
    with np.load(bundle / name, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    key = rng.choice(list(arrays))
    kind = rng.choice(["pickle", "huge shape", "0-d", "wrong width", "wrong dtype", "missing", "not a zip", "nan"])
    if kind == "pickle":
        arrays[key] = np.array([{"__reduce__": "os.system"}, 1], dtype=object)
        data = _npz_pickle(arrays)
    elif kind == "huge shape":
        data = _huge_shape_npz(key)
    else:
        if kind == "0-d":
            arrays[key] = np.array(arrays[key].ravel()[0] if arrays[key].size else 0)
        elif kind == "wrong width":
            arrays[key] = np.concatenate([arrays[key], arrays[key]], axis=-1) if arrays[key].ndim else arrays[key]
        elif kind == "wrong dtype":
            arrays[key] = arrays[key].astype(np.complex64) if arrays[key].dtype.kind in "iuf" else arrays[key].astype("S")
        elif kind == "missing":
            del arrays[key]
        elif kind == "nan" and arrays[key].dtype.kind == "f":
            arrays[key] = np.full_like(arrays[key], np.nan)
        data = b"PK\x03\x04 not really" if kind == "not a zip" else _npz(arrays)
    (bundle / name).write_bytes(data)
    _recompute(bundle, name)
    return f"{name}/{key}: {kind}"


def _npz_pickle(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # saving object arrays pickles them
    return buffer.getvalue()


def filesystem(rng: random.Random, bundle: Path) -> str:
    names = sorted(p.name for p in bundle.iterdir())
    name = rng.choice(names)
    path = bundle / name
    kind = rng.choice(["symlink", "fifo", "folder", "deleted", "truncated", "flipped", "grown"])
    if kind == "symlink":
        outside = bundle.parent / f"outside-{name}"
        shutil.copyfile(path, outside)
        path.unlink()
        path.symlink_to(outside)
    elif kind in ("fifo", "folder", "deleted"):
        path.unlink()
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "folder":
            path.mkdir()
    else:
        data = bytearray(path.read_bytes())
        if kind == "truncated":
            data = data[: len(data) // 2]
        elif kind == "flipped" and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            data += b"\0" * 10
        path.write_bytes(bytes(data))
    return f"{name}: {kind}"


MUTATIONS: list[Callable[[random.Random, Path], str]] = [manifest_field, manifest_field, tokenizer_field,
                                                         raw_json, npz_member, filesystem]


# --- running a case ----------------------------------------------------------------------------

def _installed(backend: str | None) -> bool:
    return backend is None or base.is_installed(backend)


def _attempt(bundle: Path, keys: Any) -> dict[str, Any]:
    """Every load's answers (or refusal) and verify's verdict; an exception other than EdgeLSTMError escapes."""
    outcome: dict[str, Any] = {}
    for variant, backend in LOADS:
        if not _installed(backend):
            continue
        try:
            with Classifier.load(bundle, variant=variant, backend=backend, trusted_keys=keys) as classifier:
                outcome[f"{variant}/{backend}"] = (classifier.labels, classifier.predict_proba(TEXTS))
        except EdgeLSTMError as error:
            outcome[f"{variant}/{backend}"] = _refusal(error)
    try:
        outcome["verify"] = verify_bundle(bundle, backends=["numpy", "onnxruntime"], trusted_keys=keys).passed
    except EdgeLSTMError as error:
        outcome["verify"] = _refusal(error)
    return outcome


def _refusal(error: EdgeLSTMError) -> str:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message, repr(message)
    return "refused"


def _same(answer: Any, reference: Any) -> bool:
    if isinstance(answer, str) or isinstance(reference, str):
        return answer == reference
    return answer[0] == reference[0] and np.array_equal(answer[1], reference[1])


@pytest.fixture(scope="module")
def signed_fixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path | None]:
    folder = tmp_path_factory.mktemp("hostile")
    bundle = Path(shutil.copytree(FIXTURE, folder / "signed"))
    try:
        from edgelstm.runtime import signing
        from edgelstm.runtime.cli_sign import sign_bundle
    except ImportError:
        return bundle, None
    try:
        private, public = signing.generate_key(folder / "publisher")
    except EdgeLSTMError:  # cryptography missing: only the unsigned half runs
        return bundle, None
    sign_bundle(bundle, private)
    return bundle, public


def test_generated_hostile_bundles_are_refused_cleanly_and_never_answer_wrongly(
        signed_fixture: tuple[Path, Path | None], tmp_path: Path) -> None:
    source, public = signed_fixture
    reference = _attempt(source, None)
    assert all(not isinstance(answer, str) for answer in reference.values()), reference
    rng = random.Random(SEED)
    counts: collections.Counter[str] = collections.Counter()
    for number in range(CASES):
        case = Path(shutil.copytree(source, tmp_path / f"case-{number}" / "bundle"))
        mutation = rng.choice(MUTATIONS)
        what = mutation(rng, case)
        try:
            unsigned = _attempt(case, None)
            guarded = _attempt(case, [public]) if public is not None else {}
        except Exception as error:  # noqa: BLE001 - the assertion is that nothing but EdgeLSTMError escapes
            raise AssertionError(f"case {number} ({what}): {type(error).__name__}: {error}") from error
        counts["cases"] += 1
        counts["refused cleanly (unsigned)"] += sum(answer == "refused" for answer in unsigned.values())
        counts["loads and verifies run"] += len(unsigned) + len(guarded)
        changed = [key for key in unsigned if key != "verify" and not _same(unsigned[key], reference[key])]
        counts["unsigned answers changed by a consistent tamper"] += bool(
            [key for key in changed if unsigned[key] != "refused"])
        wrong = [key for key, answer in guarded.items() if key != "verify" and answer != "refused"
                 and not _same(answer, reference[key])]
        assert not wrong, f"case {number} ({what}): a signed-bundle load answered differently: {wrong}"
        counts["refused cleanly (signed)"] += sum(answer == "refused" for answer in guarded.values())
        shutil.rmtree(case.parent)
    print(f"\nhostile bundles (seed {SEED}): " + ", ".join(f"{key}: {value}" for key, value in counts.items()))
    assert counts["cases"] == CASES


# The shapes the issue found ending in AttributeError/TypeError/KeyError/IndexError/OSError.
def _first_file(manifest: dict) -> str:
    return next(iter(manifest["files"]))


MANIFEST_SHAPES: dict[str, Callable[[dict], None]] = {
    "files[...] a string": lambda m: m["files"].__setitem__(_first_file(m), "abc"),
    "files[...] null": lambda m: m["files"].__setitem__(_first_file(m), None),
    "files[...].bytes a string": lambda m: m["files"][_first_file(m)].__setitem__("bytes", "12"),
    "files[...].sha256 a number": lambda m: m["files"][_first_file(m)].__setitem__("sha256", 5),
    "a variant entry a list": lambda m: m["variants"].__setitem__("onnx-fp32", ["model-onnx-fp32.onnx"]),
    "task.labels 5": lambda m: m["task"].__setitem__("labels", 5),
    "task.labels one name": lambda m: m["task"].__setitem__("labels", ["neg"]),
    "task.labels the same name twice": lambda m: m["task"].__setitem__("labels", ["neg", "neg"]),
    "fast_path yes": lambda m: m["variants"]["onnx-fp32"].__setitem__("fast_path", "yes"),
    "default_variant a dict": lambda m: m.__setitem__("default_variant", {"name": "onnx-fp32"}),
    "default_variant not in the bundle": lambda m: m.__setitem__("default_variant", "tflite-int16"),
    "a 4,000-character file name": lambda m: m["files"].__setitem__("x" * 4000, m["files"]["tokenizer.json"]),
    "a file name with a path": lambda m: m["files"].__setitem__("../tokenizer.json", m["files"]["tokenizer.json"]),
    "schema_version a string": lambda m: m.__setitem__("schema_version", "1"),
    "variants a list": lambda m: m.__setitem__("variants", []),
    "task null": lambda m: m.__setitem__("task", None),
    "weights.serves a string": lambda m: m["weights"].__setitem__("serves", "tflite-fp32"),
    "variant_preference a string": lambda m: m.__setitem__("variant_preference", "onnx-fp32"),
    "task.maxlen true": lambda m: m["task"].__setitem__("maxlen", True),
    "task.vocab_size beyond the embedding": lambda m: m["task"].__setitem__("vocab_size", 10 ** 6),
    "a variant's fast_path inputs missing h0": lambda m: m["variants"]["onnx-fp32"]["fast_path"]["inputs"].pop("h0"),
}

TOKENIZER_SHAPES: dict[str, Callable[[dict], Any]] = {
    "words null": lambda t: t.__setitem__("words", None),
    "words numbers": lambda t: t.__setitem__("words", [1, 2, 3]),
    "words duplicated": lambda t: t.__setitem__("words", t["words"][:3] + t["words"][:3]),
    "more words than vocab_size": lambda t: t.__setitem__("words", [f"w{i}" for i in range(t["vocab_size"])]),
    "maxlen a string": lambda t: t.__setitem__("maxlen", "32"),
    "maxlen 0": lambda t: t.__setitem__("maxlen", 0),
    "maxlen 2.5": lambda t: t.__setitem__("maxlen", 2.5),
    "vocab_size negative": lambda t: t.__setitem__("vocab_size", -1),
    "vocab_size beyond the model": lambda t: t.__setitem__("vocab_size", 10 ** 6),
    "kind unknown": lambda t: t.__setitem__("kind", "bpe"),
    "padding middle": lambda t: t.__setitem__("padding", "middle"),
    "format_version a string": lambda t: t.__setitem__("format_version", "1"),
    "keras-imdb with a negative rank": lambda t: t.update(kind="keras-imdb", word_index={"good": -3, "bad": 4}),
    "keras-imdb word_index a list": lambda t: t.update(kind="keras-imdb", word_index=["good"]),
    "not an object": lambda t: ["words"],
}
RAW_TOKENIZERS = {
    "maxlen NaN": lambda text: text.replace('"maxlen":32', '"maxlen":NaN'),
    "maxlen of 5,000 digits": lambda text: text.replace('"maxlen":32', '"maxlen":' + "9" * 5000),
    "nested 100,000 deep": lambda text: text[:-1] + ',"x":' + "[" * 100_000 + "]" * 100_000 + "}",
    "invalid UTF-8": lambda text: text.replace('"words":["', '"words":["\udcff', 1),
}


def _refused_everywhere(bundle: Path) -> None:
    outcome = _attempt(bundle, None)
    assert all(answer == "refused" for answer in outcome.values()), outcome


@pytest.mark.parametrize("shape", list(MANIFEST_SHAPES))
def test_each_malformed_manifest_shape_is_one_clean_refusal(tmp_path: Path, shape: str) -> None:
    bundle = Path(shutil.copytree(FIXTURE, tmp_path / "bundle"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    MANIFEST_SHAPES[shape](manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    _refused_everywhere(bundle)


@pytest.mark.parametrize("shape", list(TOKENIZER_SHAPES) + list(RAW_TOKENIZERS))
def test_each_malformed_tokenizer_is_one_clean_refusal(tmp_path: Path, shape: str) -> None:
    bundle = Path(shutil.copytree(FIXTURE, tmp_path / "bundle"))
    path = bundle / "tokenizer.json"
    if shape in RAW_TOKENIZERS:
        text = json.dumps(json.loads(path.read_text()), separators=(",", ":"))
        path.write_bytes(RAW_TOKENIZERS[shape](text).encode("utf-8", "surrogateescape"))
    else:
        tokenizer = json.loads(path.read_text())
        replaced = TOKENIZER_SHAPES[shape](tokenizer)
        path.write_text(json.dumps(tokenizer if replaced is None else replaced))
    _recompute(bundle, "tokenizer.json")
    _refused_everywhere(bundle)
