"""A Debian bookworm arm64 userland (what 64-bit Raspberry Pi OS is) run here under qemu user-mode.

The recipe and its traps are measured in shared/notes/aarch64.md. In short: binfmt_misc with
the F flag, so a chroot finds the emulator without a copy inside; an `extract` root (no
/bin/sh, no maintainer scripts, a few seconds); a Raspberry Pi 4 /proc/cpuinfo bind-mounted
over the emulated one, because onnxruntime segfaults parsing the host's x86 cpuinfo; a clean
environment, because the host's PIP_* variables must not reach the Pi's pip.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

SUITE = "bookworm"
# python3.11 is the Pi's Python; libstdc++6 because numpy's aarch64 wheel needs it to import.
PACKAGES = ("python3.11", "python3.11-venv", "python3-pip-whl", "python3-setuptools-whl", "libstdc++6")
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
# Debian package that provides each host tool.
HOST_TOOLS = {"qemu-aarch64-static": "qemu-user-static", "mmdebstrap": "mmdebstrap"}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU_BINFMT_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
# A Pi 4 is a Cortex-A72 (cortex-a76 would be a Pi 5).
QEMU_CPU = "cortex-a72"
CPUINFO = Path(__file__).with_name("cpuinfo-pi4")
ROOTFS_STAMP = ".edgelstm-rootfs"


class CannotEmulate(Exception):
    """This machine cannot run the Pi userland; the message is the one line the user sees."""


def check_host() -> None:
    """Root, the host tools and binfmt_misc for aarch64, or CannotEmulate with the reason."""
    if platform.system() != "Linux":
        raise CannotEmulate(f"needs Linux (qemu user-mode and binfmt_misc), this is {platform.system()}")
    if os.geteuid() != 0:
        raise CannotEmulate("needs root (binfmt_misc, mounts and chroot); run it as root")
    _ensure_tools()
    if platform.machine() != "aarch64":
        _ensure_binfmt()


def _ensure_tools() -> None:
    missing = sorted({pkg for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise CannotEmulate(f"needs the Debian packages {' '.join(missing)} and there is no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        if done.returncode:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise CannotEmulate(f"`{' '.join(argv)}` failed: {tail[0]}")


def _ensure_binfmt() -> None:
    if not (BINFMT / "register").exists():
        argv = ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode:
            raise CannotEmulate(f"cannot mount binfmt_misc ({done.stderr.strip() or 'no CAP_SYS_ADMIN?'})")
    entry = BINFMT / "qemu-aarch64"
    if not entry.exists():
        line = next((ln for ln in QEMU_BINFMT_CONF.read_text().splitlines() if ln.startswith(":")), None)
        if line is None:
            raise CannotEmulate(f"{QEMU_BINFMT_CONF} holds no binfmt line")
        try:
            (BINFMT / "register").write_text(line)
        except OSError as error:
            raise CannotEmulate(f"cannot register qemu-aarch64 in binfmt_misc: {error}") from error
    status = entry.read_text()
    if not status.startswith("enabled"):
        raise CannotEmulate(f"the binfmt_misc entry {entry} is disabled")
    flags = next((ln.split(":", 1)[1].strip() for ln in status.splitlines() if ln.startswith("flags:")), "")
    if "F" not in flags:
        # Without F the kernel looks for the emulator inside the chroot, where it is not.
        raise CannotEmulate(f"the binfmt_misc entry {entry} lacks the F flag; "
                            f"remove it (echo -1 > {entry}) and run again to register it with F")


def rootfs_key() -> str:
    return hashlib.sha256("\n".join((SUITE, *PACKAGES, *MIRRORS)).encode()).hexdigest()[:16]


def ensure_rootfs(root: Path, log: Path) -> bool:
    """Create the arm64 root at `root` unless one of the same recipe is there; True if created.

    The stamp is written last, so a root left half-made by a killed run is made again.
    """
    stamp = root / ROOTFS_STAMP
    if stamp.exists() and stamp.read_text().strip() == rootfs_key():
        return False
    remove_root(root)
    argv = ["mmdebstrap", "--variant=extract", "--arch=arm64", f"--include={','.join(PACKAGES)}",
            SUITE, str(root), *MIRRORS]
    with log.open("w") as handle:
        done = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f"mmdebstrap failed (exit {done.returncode}); see {log}")
    for mount_point in ("proc", "sys"):
        (root / mount_point).mkdir(exist_ok=True)
    stamp.write_text(rootfs_key() + "\n")
    return True


def remove_root(root: Path) -> None:
    """Unmount what is left under `root`, then delete it."""
    unmount_under(root)
    if root.exists():
        _remove_tree(root)


def _remove_tree(path: Path) -> None:
    # A bind mount left under it would make rmtree delete the host's files: refuse instead.
    if mounts_under(path):
        raise RuntimeError(f"refusing to delete {path}: something is still mounted under it")
    shutil.rmtree(path)


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root`, deepest first."""
    root_text = str(root.resolve())
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            point = line.split()[4].encode().decode("unicode_escape")  # \040 and friends
            if point == root_text or point.startswith(root_text + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def unmount_under(root: Path) -> None:
    for point in mounts_under(root):
        if subprocess.run(["umount", point], capture_output=True).returncode:
            subprocess.run(["umount", "-l", point], capture_output=True)
    left = mounts_under(root)
    if left:
        raise RuntimeError(f"could not unmount {', '.join(left)}")


@contextmanager
def mounted(root: Path) -> Iterator[None]:
    """proc with the Pi 4 cpuinfo over it, and a read-only sysfs; always unmounted on the way out."""
    unmount_under(root)  # left by a run that was killed
    try:
        for argv in (["mount", "-t", "proc", "proc", str(root / "proc")],
                     ["mount", "--bind", str(CPUINFO), str(root / "proc/cpuinfo")],
                     ["mount", "-t", "sysfs", "-o", "ro", "sysfs", str(root / "sys")]):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode:
                raise CannotEmulate(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")
        yield
    finally:
        unmount_under(root)


def pi_env(**extra: str) -> dict[str, str]:
    """The whole environment of a process on the Pi: nothing of the host's leaks in."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
            "QEMU_CPU": QEMU_CPU, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def run_in_root(root: Path, argv: Sequence[str], *, cwd: str = "/", env: dict[str, str] | None = None,
                timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `argv` (paths as seen on the Pi) chrooted into `root`; output captured as text.

    Each process leads its own process group, so a timeout or `stop_all` ends whatever it
    started too (pytest's own subprocesses, say).
    """
    def enter() -> None:
        os.chroot(root)
        os.chdir(cwd)

    with _LOCK:
        if _STOPPING.is_set():
            raise RuntimeError("stopped")
        proc = subprocess.Popen(list(argv), env=pi_env(**(env or {})), preexec_fn=enter, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _RUNNING.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return subprocess.CompletedProcess(list(argv), 124, out, f"{err}\ntimed out after {timeout:.0f} s")
    finally:
        with _LOCK:
            _RUNNING.discard(proc)
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


_RUNNING: set[subprocess.Popen] = set()
_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _kill_group(proc: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def stop_all() -> None:
    """Kill every process started in the root and refuse new ones (before unmounting on a signal)."""
    with _LOCK:
        _STOPPING.set()
        running = list(_RUNNING)
    for proc in running:
        _kill_group(proc)
