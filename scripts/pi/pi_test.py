#!/usr/bin/env python3
"""`make test-pi`: the runtime on a Raspberry Pi's userland (Debian bookworm arm64, Python 3.11), emulated.

1. host checks: root, qemu-user-static and mmdebstrap (installed with apt-get when missing),
   binfmt_misc for aarch64; where that cannot be had, one line and exit 3
2. the arm64 root in .pi-root/ (mmdebstrap --variant=extract; a few seconds, kept between runs)
3. the project's wheel, built on the host every run, and the aarch64 wheels that its extras
   resolve to, downloaded once per set of requirements (.cache/pi/wheels-KEY)
4. a tiny run trained and exported on the host with this Python (which has TensorFlow): all six
   variants by their default routes, and the TFLite ones by their other routes; and a tiny
   3-label run's bundle (every default variant), kept per hash of the sources
   (.cache/pi/bundles-KEY/{default,other-routes,3-labels})
5. on the Pi, one venv per device option (numpy only, [litert], [onnx], [tflite-runtime]: what
   a user installs, no TensorFlow, no compiler): `edgelstm verify --backend B --json` on the
   bundles, and the runtime's own unit tests with pytest
   Pairs the runtime refuses by its own rules (e.g. tflite-runtime and the Keras 3 dynamic-int8
   model) are also run anyway (probe.py), to confirm that the interpreter really fails
6. out/pi/: results.json, compatibility.md (the README's matrix), logs/; the table is printed.
   Exit 1 on any failed check or test, a refusal the interpreter contradicts, a backend that
   ran nothing, or a build-time package (TensorFlow, Keras, tf2onnx, onnx) in the Pi's wheels.

Emulation is 10-300x slower than a Pi: the figures here are about correctness, never timing.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emulation  # noqa: E402
import matrix  # noqa: E402

from edgelstm.core.variants import TF_KERAS_FUSED, TFLITE, VARIANTS  # noqa: E402
from edgelstm.export.cli import EXIT_PARTIAL  # noqa: E402 - a bundle written without some variant passing

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / ".pi-root"
CACHE = REPO / ".cache" / "pi"
OUT = REPO / "out" / "pi"
EXIT_CANNOT_EMULATE = 3

# What a Pi user installs: a venv per option, named after it, and the backend verified there.
@dataclass(frozen=True)
class Option:
    name: str
    extra: str  # of edgelstm; "" is the base install (numpy only)
    backend: str


OPTIONS = (
    Option("numpy", "", "numpy"),
    Option("litert", "litert", "litert"),
    Option("onnx", "onnx", "onnxruntime"),
    Option("tflite-runtime", "tflite-runtime", "tflite-runtime"),
)
PI_PYTHON = ("3.11", "cp311")
# pip takes no older tag by itself: every manylinux tag an aarch64 glibc 2.36 system accepts.
WHEEL_TAGS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_27_aarch64",
              "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
TEST_REQUIREMENTS = ("pytest>=9.0,<9.3",)
TEST_ONLY = ("pytest", "pluggy", "iniconfig", "pygments")  # in the venvs for the tests, not for a device
# Tests that need only the runtime; each must skip cleanly where TensorFlow is absent.
RUNTIME_TESTS = ("test_runtime_*.py", "test_tokenizer.py")
# The host's tiny model: seconds to train, about 96 % validation accuracy (so quantization does
# not flip labels near p = 0.5), quick even emulated. Its LSTM kernels ([16, 128], [32, 128])
# are above the 1024 elements under which TFLite's dynamic-range quantization leaves a weight in
# float, so the dynamic-int8 models hold the hybrid FULLY_CONNECTED ops a real model has (the
# 8-unit model of tests/conftest.py does not, and tflite-runtime runs its WHILE dynint8 model).
TINY_TRAIN = ("--data", "synthetic", "--synthetic-size", "2500", "--vocab-size", "400", "--maxlen", "64",
              "--embedding-dim", "16", "--lstm-units", "32", "--epochs", "6", "--batch-size", "32",
              "--learning-rate", "0.01", "--early-stopping-patience", "0", "--calibration-size", "64",
              "--seed", "0", "--quiet")
# Bundles exported on the host from that one run: every variant by its default route, and the
# TFLite variants whose default is not the fused tf_keras op by that route (OTHER_ROUTE, read off
# the variant table), so the matrix shows what the graph changes on each interpreter (the fused
# op with its in-graph state reset against the WHILE loop). The default export must pass whole;
# the other routes are kept when they miss a bound at export (--keep-failed), and the Pi's
# figures are shown beside that verdict.
OTHER_ROUTE = TF_KERAS_FUSED
OTHER_ROUTES = tuple(spec.name for spec in VARIANTS.values()
                     if spec.format == TFLITE and OTHER_ROUTE in spec.route_names[1:])
# A second tiny run, of the same sizes, with a Dense(3, softmax) head: the three-topic corpus of
# the tests (tests/helpers/topics.py, labels food, sports, tech), so every backend on the Pi also
# runs a C-class bundle's every default variant. About 20 s of training and one export more.
TOPICS_HELPER = REPO / "tests" / "helpers" / "topics.py"
TOPICS_ROWS = 1500
TINY_TRAIN_3_LABELS = ("--vocab-size", "400", "--maxlen", "64", "--embedding-dim", "16", "--lstm-units", "32",
                       "--epochs", "6", "--batch-size", "32", "--learning-rate", "0.01",
                       "--early-stopping-patience", "0", "--calibration-size", "64", "--seed", "0", "--quiet")
BINARY_RUN, TOPICS_RUN = "run", "run-3-labels"
# Bundle -> (the run it is exported from, export options).
BUNDLES = {
    "default": (BINARY_RUN, ()),
    "other-routes": (BINARY_RUN, ("--variants", ",".join(OTHER_ROUTES),
                                  *(option for name in OTHER_ROUTES for option in ("--route", f"{name}={OTHER_ROUTE}")),
                                  "--keep-failed")),
    # Kept if the host's gate fails one (a 3-label tiny model's mobile-dynint8 once missed MediaPipe's
    # raw-text bound by 2 texts of 306): the Pi still shows whether each file runs, marked as failed at
    # export, and the export's partial exit status (EXIT_PARTIAL) is expected of a --keep-failed bundle.
    "3-labels": (TOPICS_RUN, ("--keep-failed",)),
}
TESTS_BUNDLE = "default"  # the one the runtime's unit tests use (EDGELSTM_TEST_BUNDLE)
# Which bundles each backend is verified on: the routes matter to the TFLite interpreters only.
BACKEND_BUNDLES = {"litert": tuple(BUNDLES), "tflite-runtime": tuple(BUNDLES), "onnxruntime": ("default", "3-labels"),
                   "numpy": ("default", "3-labels")}
SOURCES = ("cli", "core", "train", "export", "runtime", "pyproject.toml")
PI_BASE = "/opt/edgelstm"  # on the Pi: wheels/, project/, bundles/, src/tests, out/, probe.py
PI_VENVS = "/opt/venvs"


class Progress:
    def __init__(self) -> None:
        self.start = time.monotonic()
        self.timings: dict[str, float] = {}

    def step(self, name: str, message: str, since: float) -> None:
        took = time.monotonic() - since
        self.timings[name] = round(took, 1)
        print(f"[{time.monotonic() - self.start:6.1f}s] {name}: {message} ({took:.1f} s)", flush=True)


def run_host(argv: list[str], log: Path, *, env: dict[str, str] | None = None, timeout: float = 1800,
             accept: tuple[int, ...] = (0,)) -> None:
    """Run a host command, its output into `log`; an exit status outside `accept` raises with the log's tail."""
    with log.open("w") as handle:
        handle.write("$ " + " ".join(argv) + "\n")
        handle.flush()
        done = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=REPO, timeout=timeout)
    if done.returncode not in accept:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise RuntimeError(f"`{' '.join(argv[:4])} ...` failed (exit {done.returncode}); {log}:\n{tail}")


def sha_of(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def build_project_wheel(logs: Path) -> Path:
    dest = CACHE / "project"
    shutil.rmtree(dest, ignore_errors=True)
    run_host([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", str(dest)], logs / "wheel.log")
    (wheel,) = dest.glob("edgelstm-*.whl")
    return wheel


def requires_dist(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    return [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]


def download_wheels(project_wheel: Path, logs: Path) -> tuple[Path, str]:
    """aarch64 wheels for every option, once per set of requirements; returns (folder, key)."""
    key = sha_of(*requires_dist(project_wheel), *WHEEL_TAGS, *TEST_REQUIREMENTS, *PI_PYTHON,
                 *(o.extra for o in OPTIONS))
    dest = CACHE / f"wheels-{key}"
    if (dest / ".complete").exists():
        return dest, key
    _drop_siblings(CACHE, "wheels-")  # older sets and a partial download
    partial = dest.with_name(dest.name + ".part")
    platforms = [arg for tag in WHEEL_TAGS for arg in ("--platform", tag)]
    # This machine's pip config carries a host-only constraint file: not for the Pi.
    env = {**os.environ, "PIP_CONSTRAINT": ""}
    for option in OPTIONS:
        wanted = f"{project_wheel}[{option.extra}]" if option.extra else str(project_wheel)
        run_host([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
                  "--python-version", PI_PYTHON[0], "--implementation", "cp", "--abi", PI_PYTHON[1],
                  "--abi", "abi3", "--abi", "none", *platforms, "-d", str(partial), wanted, *TEST_REQUIREMENTS],
                 logs / f"download-{option.name}.log", env=env)
    for own in partial.glob("edgelstm-*.whl"):
        own.unlink()  # the project's wheel is fresh every run, never cached
    (partial / ".complete").write_text(key + "\n")
    partial.rename(dest)
    return dest, key


def _drop_siblings(folder: Path, prefix: str) -> None:
    for old in folder.glob(prefix + "*"):
        shutil.rmtree(old, ignore_errors=True)


def ensure_bundles(logs: Path) -> Path:
    """The tiny run trained and exported on the host (folder of BUNDLES), kept while the sources stay the same."""
    files = sorted(p for src in map(REPO.joinpath, SOURCES) for p in ([src] if src.is_file() else src.rglob("*.py")))
    files.append(TOPICS_HELPER)
    key = sha_of(*TINY_TRAIN, *TINY_TRAIN_3_LABELS, str(TOPICS_ROWS), json.dumps(BUNDLES),
                 *(str(p.relative_to(REPO)) for p in files), *(p.read_bytes() for p in files))
    dest = CACHE / f"bundles-{key}"
    if all((dest / name / "manifest.json").exists() for name in BUNDLES):
        return dest
    work = CACHE / "export-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    edgelstm = [sys.executable, "-m", "edgelstm"]
    run_host([*edgelstm, "train", *TINY_TRAIN, "--out", str(work / BINARY_RUN)], logs / "host-train.log")
    topics = _load_module(TOPICS_HELPER).write_csv(work / "topics.csv", TOPICS_ROWS, seed=0)
    run_host([*edgelstm, "train", "--data", str(topics), *TINY_TRAIN_3_LABELS, "--out", str(work / TOPICS_RUN)],
             logs / "host-train-3-labels.log")
    for name, (run, options) in BUNDLES.items():
        run_host([*edgelstm, "export", str(work / run), "--out", str(work / "bundles" / name), *options],
                 logs / f"host-export-{name}.log", accept=(0, EXIT_PARTIAL) if "--keep-failed" in options else (0,))
    _drop_siblings(CACHE, "bundles-")  # bundles of older sources
    (work / "bundles").rename(dest)
    shutil.rmtree(work, ignore_errors=True)
    return dest


def _load_module(path: Path):  # noqa: ANN202 - a helper module of the tests (tests/ is not a package)
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _link_tree(source: Path, dest: Path) -> None:
    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source, dest, copy_function=link_or_copy,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".complete"))


def runtime_test_files() -> list[str]:
    return sorted({p.name for pattern in RUNTIME_TESTS for p in (REPO / "tests").glob(pattern)})


def stage(wheels: Path, project_wheel: Path, bundles: Path) -> None:
    """Put what the Pi needs under /opt/edgelstm: wheels, the project, the bundles, the tests."""
    base = ROOT / PI_BASE.lstrip("/")
    _link_tree(wheels, base / "wheels")
    shutil.rmtree(base / "project", ignore_errors=True)
    (base / "project").mkdir(parents=True)
    shutil.copy2(project_wheel, base / "project" / project_wheel.name)
    # Copied, not linked: a test that damaged a bundle in place must not reach the host's cache.
    shutil.rmtree(base / "bundles", ignore_errors=True)
    shutil.copytree(bundles, base / "bundles")
    _link_tree(REPO / "tests", base / "src" / "tests")
    shutil.copy2(REPO / "pyproject.toml", base / "src" / "pyproject.toml")
    shutil.copy2(Path(__file__).with_name("probe.py"), base / "probe.py")
    shutil.rmtree(base / "out", ignore_errors=True)
    (base / "out").mkdir()


def pi_run(argv: list[str], log: Path, **kwargs) -> subprocess.CompletedProcess:
    since = time.monotonic()
    done = emulation.run_in_root(ROOT, argv, **kwargs)
    log.write_text(f"$ {' '.join(argv)}\nexit {done.returncode} after {time.monotonic() - since:.1f} s\n"
                   f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
    return done


def ensure_venv(option: Option, wheels_key: str, project_wheel: Path, logs: Path) -> None:
    """The option's venv on the Pi, rebuilt when the wheel set changes; the project reinstalled every run."""
    venv = f"{PI_VENVS}/{option.name}"
    stamp = ROOT / venv.lstrip("/") / ".edgelstm-wheels"
    (pip_wheel,) = (ROOT / "usr/share/python-wheels").glob("pip-*.whl")
    # Debian's pip wheel instead of ensurepip: a second instead of most of a minute emulated.
    pip = [f"{venv}/bin/python", f"/usr/share/python-wheels/{pip_wheel.name}/pip", "install", "--no-index",
           "--no-compile", "--find-links", f"{PI_BASE}/wheels"]
    wheel = f"{PI_BASE}/project/{project_wheel.name}"
    if stamp.exists() and stamp.read_text().strip() == wheels_key:
        steps = [pip + ["--no-deps", "--force-reinstall", wheel]]
    else:
        shutil.rmtree(stamp.parent, ignore_errors=True)
        wanted = f"{wheel}[{option.extra}]" if option.extra else wheel
        steps = [["/usr/bin/python3.11", "-m", "venv", "--without-pip", venv], pip + [wanted, *TEST_REQUIREMENTS]]
    for number, argv in enumerate(steps):
        done = pi_run(argv, logs / f"pi-venv-{option.name}-{number}.log", timeout=1200)
        if done.returncode:
            raise RuntimeError(f"installing the {option.name} venv on the Pi failed: {done.stderr.strip()[-600:]}")
    stamp.write_text(wheels_key + "\n")


def run_option(option: Option, tests: list[str], logs: Path) -> dict:
    """`edgelstm env`, `edgelstm verify` and the runtime tests in one option's venv."""
    venv = f"{PI_VENVS}/{option.name}"
    result: dict = {"option": option.name, "extra": option.extra, "backend": option.backend}
    env = pi_run([f"{venv}/bin/edgelstm", "env", "--json"], logs / f"pi-env-{option.name}.log", timeout=300)
    result["env"] = _json_or_none(env.stdout)
    result["verify"], result["probes"] = {}, {}
    for bundle in BACKEND_BUNDLES[option.backend]:
        # Every variant by name, so those that failed at export are checked on the Pi as well.
        manifest = json.loads((ROOT / PI_BASE.lstrip("/") / "bundles" / bundle / "manifest.json").read_text())
        verify = pi_run([f"{venv}/bin/edgelstm", "verify", f"{PI_BASE}/bundles/{bundle}", "--backend", option.backend,
                         "--variant", ",".join(manifest["variants"]), "--json"],
                        logs / f"pi-verify-{option.name}-{bundle}.log", timeout=1200)
        report = _json_or_none(verify.stdout)
        result["verify"][bundle] = {"returncode": verify.returncode, "report": report,
                                    "stderr": verify.stderr.strip()[-2000:]}
        result["probes"][bundle] = probe_refusals(option, bundle, report, logs)
    junit = f"{PI_BASE}/out/pytest-{option.name}.xml"
    if tests:
        pytest = pi_run([f"{venv}/bin/python", "-m", "pytest", "-q", "-rs", "--durations=5", "-p", "no:cacheprovider",
                         f"--junitxml={junit}", *(f"tests/{name}" for name in tests)],
                        logs / f"pi-pytest-{option.name}.log", cwd=f"{PI_BASE}/src",
                        env={"EDGELSTM_TEST_BUNDLE": f"{PI_BASE}/bundles/{TESTS_BUNDLE}"}, timeout=1800)
        result["pytest"] = matrix.read_junit(ROOT / junit.lstrip("/"), pytest.returncode, pytest.stdout)
    else:
        result["pytest"] = {"returncode": None, "error": f"no test file in tests/ matches {', '.join(RUNTIME_TESTS)}"}
    result["venv_mb"] = round(device_bytes(ROOT / venv.lstrip("/")) / 1e6, 1)
    return result


def probe_refusals(option: Option, bundle: str, report: dict | None, logs: Path) -> dict[str, dict]:
    """Run anyway, one process each, the pairs the runtime refused on this option's backend."""
    probes = {}
    refused = [c["variant"] for c in (report or {}).get("checks", [])
               if c["backend"] == option.backend and c["status"] == "skipped" and "not installed" not in c["note"]]
    for variant in refused:
        done = pi_run([f"{PI_VENVS}/{option.name}/bin/python", f"{PI_BASE}/probe.py", f"{PI_BASE}/bundles/{bundle}",
                       option.backend, variant], logs / f"pi-probe-{option.name}-{bundle}-{variant}.log", timeout=600)
        found = _json_or_none(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "")
        if found is None:
            crash = f"signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
            found = {"ran": False, "error": f"the process died ({crash}): {matrix._last_line(done.stderr)}"}
        probes[variant] = found
    return probes


def tree_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def device_bytes(venv: Path) -> int:
    """The venv's size less what only the tests need (pytest and its own dependencies)."""
    total = tree_bytes(venv)
    for record in venv.glob("lib/python*/site-packages/*.dist-info/RECORD"):
        if record.parent.name.split("-")[0].lower() in TEST_ONLY:
            site = record.parent.parent
            for line in record.read_text().splitlines():
                path = site / line.split(",")[0]
                if path.is_file() and not path.is_symlink():
                    total -= path.lstat().st_size
    return total


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--options", default=",".join(o.name for o in OPTIONS),
                        help="device options to check, comma-separated (default: all)")
    parser.add_argument("--no-tests", action="store_true", help="skip the runtime unit tests on the Pi")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="options checked at the same time (default: 2, or 1 on one core)")
    parser.add_argument("--fresh", action="store_true", help="drop every cache first (root, wheels, bundles, venvs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [o for o in OPTIONS if o.name in args.options.split(",")]
    if not chosen:
        print(f"test-pi: no known option in {args.options!r}: accepted are {', '.join(o.name for o in OPTIONS)}")
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    try:
        emulation.check_host()
    except emulation.CannotEmulate as error:
        print(f"test-pi: cannot emulate the Raspberry Pi here: {error}")
        return EXIT_CANNOT_EMULATE
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "pi.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one run at a time owns .pi-root and its mounts
        return _run(args, chosen)


def _stop(number: int, _frame) -> None:
    """On a signal: end what runs on the Pi (in its own process groups), then unwind and unmount."""
    emulation.stop_all()
    sys.exit(128 + number)


def _run(args: argparse.Namespace, chosen: list[Option]) -> int:
    progress = Progress()
    shutil.rmtree(OUT, ignore_errors=True)
    logs = OUT / "logs"
    logs.mkdir(parents=True)
    if args.fresh:
        emulation.remove_root(ROOT)
        shutil.rmtree(CACHE / "project", ignore_errors=True)
        _drop_siblings(CACHE, "wheels-")
        _drop_siblings(CACHE, "bundles-")
    since = time.monotonic()
    created = emulation.ensure_rootfs(ROOT, logs / "mmdebstrap.log")
    state = "created" if created else "cached"
    progress.step("rootfs", f"{state} Debian {emulation.SUITE} arm64 in {ROOT.name}/", since)
    since = time.monotonic()
    project_wheel = build_project_wheel(logs)
    wheels, wheels_key = download_wheels(project_wheel, logs)
    progress.step("wheels", f"{project_wheel.name} + {len(list(wheels.glob('*.whl')))} aarch64 wheels", since)
    since = time.monotonic()
    bundles = ensure_bundles(logs)
    progress.step("bundles", f"{', '.join(BUNDLES)} in {bundles.relative_to(REPO)}/, exported on the host", since)
    tests = [] if args.no_tests else runtime_test_files()
    stage(wheels, project_wheel, bundles)

    def check(option: Option) -> dict:
        since = time.monotonic()
        ensure_venv(option, wheels_key, project_wheel, logs)
        result = run_option(option, tests, logs)
        progress.step(option.name, matrix.one_line(result), since)
        return result

    # Options are independent (own venv, own logs): run them side by side, one per core.
    with emulation.mounted(ROOT), ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(check, chosen))
    manifests = {name: json.loads((bundles / name / "manifest.json").read_text()) for name in BUNDLES}
    report = matrix.build(results, manifests=manifests,
                          wheels=sorted(p.name for p in wheels.glob("*.whl")), tests_expected=not args.no_tests)
    report["timings"] = {**progress.timings, "total": round(time.monotonic() - progress.start, 1)}
    (OUT / "results.json").write_text(json.dumps({"report": report, "results": results, "manifests": manifests,
                                                  "wheels": sorted(p.name for p in wheels.glob("*.whl")),
                                                  "tests_expected": not args.no_tests}, indent=2, default=str))
    markdown = matrix.markdown(report)
    (OUT / "compatibility.md").write_text(markdown)
    print()
    print(markdown)
    print(f"written: {(OUT / 'compatibility.md').relative_to(REPO)}, {(OUT / 'results.json').relative_to(REPO)}, "
          f"logs in {logs.relative_to(REPO)}/")
    if report["unexpected"]:
        print(f"test-pi: {len(report['unexpected'])} unexpected outcome(s):")
        for line in report["unexpected"]:
            print(f"  - {line}")
        return 1
    print(f"test-pi: every outcome as expected ({report['timings']['total']:.0f} s)")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except RuntimeError as error:
        print(f"test-pi: {error}", file=sys.stderr)
        raise SystemExit(1) from None
