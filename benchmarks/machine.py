"""The machine a result came from, so a figure is never read without it."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from edgelstm.envinfo import cpuinfo_fields, environment

# CPU features that change which kernels interpreters pick (x86 SIMD, Arm dot products).
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8",
              "neon", "asimd", "asimddp", "sve", "i8mm")


def cpu_flags() -> list[str]:
    """The SIMD features of /proc/cpuinfo worth knowing for inference speed (Linux only)."""
    fields = cpuinfo_fields()
    present = set((fields.get("flags") or fields.get("Features") or "").split())
    return [flag for flag in SIMD_FLAGS if flag in present]


def memory_total_mb() -> float | None:
    try:
        import psutil  # optional: the `bench` extra
    except ImportError:
        psutil = None
    if psutil is not None:
        return psutil.virtual_memory().total / 2**20
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        return None


def physical_cores() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.cpu_count(logical=False)


def machine_info() -> dict[str, Any]:
    """edgelstm.envinfo.environment() plus what matters for timing."""
    info = environment()
    info.update(physical_cores=physical_cores(), cpu_flags=cpu_flags(), memory_total_mb=memory_total_mb(),
                load_average=list(os.getloadavg()) if hasattr(os, "getloadavg") else None)
    return info


def command_line(resolved: Sequence[str]) -> str:
    """The command as typed, quoted for a shell; `resolved` (edgelstm's own arguments, every
    option explicit) when edgelstm was called from Python rather than from a shell."""
    argv = list(sys.argv)
    if argv and _is_edgelstm_entry(argv[0]):
        return shlex.join(["edgelstm", *argv[1:]])
    return shlex.join(["edgelstm", *resolved])


def _is_edgelstm_entry(program: str) -> bool:
    """The `edgelstm` console script or `python -m edgelstm` (whose argv[0] is the package's __main__.py)."""
    import edgelstm

    package_dir = os.path.dirname(os.path.realpath(edgelstm.__file__))
    return (os.path.basename(program) == "edgelstm"
            or os.path.realpath(program) == os.path.join(package_dir, "__main__.py"))
