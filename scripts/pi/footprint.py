#!/usr/bin/env python3
"""Install size and peak memory of each device option, measured once for the README.

For each option (numpy only, [litert], [onnx], [tflite-runtime]) a fresh venv gets
`pip install 'edgelstm[EXTRA]'` from the project's wheel; its size is measured, and one process
per variant loads BUNDLE and classifies one text:

    /usr/bin/time -v VENV/bin/edgelstm predict BUNDLE "TEXT" --backend B --variant V

whose "Maximum resident set size" is the peak RSS (resource.getrusage of the child where
/usr/bin/time is missing). Usage:

    .venv/bin/python scripts/pi/footprint.py BUNDLE [--out out/footprint.md]

Venvs live in .cache/footprint/ and are made again on every run. Numbers are for this host
(x86_64); on the Pi, `make test-pi` reports the size of each aarch64 venv.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".cache" / "footprint"
TEXT = "a quietly wonderful film"
# option -> (extra, backend, variants measured)
OPTIONS = {
    "numpy": ("", "numpy", ("tflite-fp32",)),
    "litert": ("litert", "litert", ("tflite-fp32", "tflite-dynint8", "tflite-int8")),
    "onnx": ("onnx", "onnxruntime", ("onnx-fp32", "onnx-dynint8")),
    "tflite-runtime": ("tflite-runtime", "tflite-runtime", ("tflite-fp32", "tflite-int8")),
}


def tree_mb(path: Path) -> float:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def sh(argv: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(map(str, argv))}\n{done.stderr[-2000:]}")
    return done


def peak_rss_mb(argv: list[str]) -> tuple[float, str]:
    """Peak RSS of one process in MB, and the command line that measured it."""
    if Path("/usr/bin/time").exists():
        done = subprocess.run(["/usr/bin/time", "-v", *map(str, argv)], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"failed: {' '.join(map(str, argv))}\n{done.stderr[-2000:]}")
        kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
        return kb / 1024, shlex.join(["/usr/bin/time", "-v", *map(str, argv)])
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sh(argv)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024, shlex.join(map(str, argv))


def measure(bundle: Path, wheel: Path) -> list[dict]:
    rows = []
    for option, (extra, backend, variants) in OPTIONS.items():
        root = WORK / option
        shutil.rmtree(root, ignore_errors=True)
        venv.EnvBuilder(with_pip=True).create(root)
        empty_mb = tree_mb(root)
        target = f"{wheel}[{extra}]" if extra else str(wheel)
        sh([root / "bin/python", "-m", "pip", "install", "-q", target])
        installed = json.loads(sh([root / "bin/python", "-m", "pip", "list", "--format=json"]).stdout)
        row = {"option": option, "install": f"pip install '{'edgelstm[' + extra + ']' if extra else 'edgelstm'}'",
               "venv_mb": round(tree_mb(root), 1), "added_mb": round(tree_mb(root) - empty_mb, 1),
               "packages": {p["name"]: p["version"] for p in installed if p["name"] not in ("pip", "setuptools")},
               "baseline_rss_mb": round(peak_rss_mb([root / "bin/python", "-c", "import numpy"])[0], 1),
               "predict": []}
        for variant in variants:
            rss, command = peak_rss_mb([root / "bin/edgelstm", "predict", bundle, TEXT, "--backend", backend,
                                        "--variant", variant])
            row["predict"].append({"variant": variant, "backend": backend, "rss_mb": round(rss, 1),
                                   "command": command.replace(str(REPO) + "/", "")})
        rows.append(row)
        peaks = ", ".join(f"{p['variant']} {p['rss_mb']} MB" for p in row["predict"])
        print(f"{option}: venv {row['venv_mb']} MB, {peaks}", flush=True)
    return rows


def markdown(rows: list[dict], bundle: Path) -> str:
    manifest = json.loads((bundle / "manifest.json").read_text())
    config = manifest.get("source_run", {}).get("config", {})
    lines = [f"Measured on {platform.machine()}, Python {platform.python_version()}, with a bundle of "
             f"vocab {config.get('vocab_size')}, maxlen {config.get('maxlen')}, "
             f"embedding {config.get('embedding_dim')}, LSTM {config.get('lstm_units')}.", "",
             "| install | venv (added to an empty venv) | python + numpy | peak RSS of one prediction |",
             "| --- | --- | --- | --- |"]
    for row in rows:
        rss = ", ".join(f"{p['variant']} {p['rss_mb']:.0f} MB" for p in row["predict"])
        lines.append(f"| `{row['install']}` | {row['venv_mb']:.0f} MB ({row['added_mb']:.0f} MB) | "
                     f"{row['baseline_rss_mb']:.0f} MB | {rss} |")
    lines += ["", "Commands (one process per prediction):", "", "```"]
    lines += [p["command"] for row in rows for p in row["predict"]]
    lines += ["```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--out", type=Path, default=REPO / "out" / "footprint.md")
    args = parser.parse_args()
    if sys.version_info >= (3, 12):
        OPTIONS.pop("tflite-runtime")  # no wheel past Python 3.11
    wheels = WORK / "wheel"
    shutil.rmtree(wheels, ignore_errors=True)
    sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", REPO, "-w", wheels])
    (wheel,) = wheels.glob("edgelstm-*.whl")
    rows = measure(args.bundle.resolve(), wheel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(rows, args.bundle.resolve()))
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
