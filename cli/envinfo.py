"""`edgelstm env`: the facts a bug report or a benchmark record needs."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import Any

from edgelstm import __version__
from edgelstm.core.versions import library_versions


def cpuinfo_fields() -> dict[str, str]:
    """The first value of each key in /proc/cpuinfo (empty where there is none: not Linux)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    """The CPU's name: x86 "model name"; on a Raspberry Pi the board ("Model"), which says more
    than the SoC family in "Hardware" (every Pi reports BCM2835 there)."""
    fields = cpuinfo_fields()
    for key in ("model name", "Model", "Hardware"):
        if fields.get(key):
            return fields[key]
    return platform.processor() or "unknown"


def environment() -> dict[str, Any]:
    return {
        "edgelstm": __version__,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "libraries": library_versions(),
    }


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    info = environment()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if key != "libraries":
            print(f"{key:<15} {value}")
    for name, version in info["libraries"].items():
        print(f"  {name:<13} {version}")
    return 0
