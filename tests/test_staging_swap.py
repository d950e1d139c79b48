"""A folder write is safe at every instant: signals injected at each rename of the swap.

A small writer process puts a folder in place with `edgelstm.core.staging` (the code every bundle
and run directory goes through) while strace delivers SIGINT, SIGTERM or SIGKILL at its
n-th rename, for every n the writer makes, both through renameat2(RENAME_EXCHANGE) and
through the two-rename fallback of systems without it. After each, the target must hold
the old folder or the new one, complete; where SIGKILL hit the fallback between its
renames, the next writer's start must restore it. The counts of kill points and of states
checked are printed (`pytest -s`) for the report.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgelstm.core import staging as staging_module
from edgelstm.core import swap

STRACE = shutil.which("strace")
RENAMES = "rename,renameat,renameat2"
pytestmark = pytest.mark.skipif(STRACE is None, reason="strace is not installed (apt-get install strace)")

# The writer: an old folder exists at argv[1] (unless argv[3] == "fresh"); write a new one there.
WRITER = r"""
import sys
from pathlib import Path
from edgelstm.core import staging, swap
target, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "fallback":
    swap._renameat2 = None  # what a system without renameat2 does
with staging.staging(target, force=True, marker="manifest.json", kind="bundle") as folder:
    (folder / "payload.bin").write_bytes(b"new" * 1000)
    (folder / "manifest.json").write_text("new")
print("written")
"""

OLD, NEW = "old", "new"


def _make_old(target: Path) -> None:
    target.mkdir(parents=True)
    (target / "payload.bin").write_bytes(b"old" * 1000)
    (target / "manifest.json").write_text(OLD)


def _state(target: Path) -> str | None:
    """OLD or NEW when the target is a complete folder of either writer, else None."""
    try:
        version = (target / "manifest.json").read_text()
        payload = (target / "payload.bin").read_bytes()
    except OSError:
        return None
    return version if payload == version.encode() * 1000 and version in (OLD, NEW) else None


def _run(target: Path, mode: str, *, inject: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", WRITER, str(target), mode]
    if inject is not None:
        command = [STRACE, "-f", "-qq", "-o", "/dev/null", "-e", f"trace={RENAMES}", "-e",
                   f"inject={RENAMES}:{inject}", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _count_renames(tmp_path: Path, mode: str, fresh: bool) -> int:
    target = tmp_path / "count" / "target"
    if not fresh:
        _make_old(target)
    else:
        target.parent.mkdir()
    log = tmp_path / "renames.log"
    command = [STRACE, "-f", "-qq", "-o", str(log), "-e", f"trace={RENAMES}",
               sys.executable, "-c", WRITER, str(target), mode]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    calls = [line for line in log.read_text().splitlines() if "rename" in line and "= 0" in line]
    shutil.rmtree(target.parent)
    return len(calls)


KILL_POINTS: list[tuple[str, str, int, str]] = []


@pytest.mark.parametrize("fresh", [False, True], ids=["replace", "fresh"])
@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_every_rename_of_the_swap_survives_every_signal(tmp_path: Path, mode: str, fresh: bool) -> None:
    if mode == "exchange" and swap._renameat2 is None:
        pytest.skip("renameat2 is not available on this system")
    renames = _count_renames(tmp_path, mode, fresh)
    assert renames == (1 if fresh or mode == "exchange" else 2), renames
    for when in range(1, renames + 1):
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            case = tmp_path / f"{signum.name}-{when}"
            target = case / "target"
            if fresh:
                case.mkdir()
            else:
                _make_old(target)
            done = _run(target, mode, inject=f"signal={signum.name}:when={when}")
            immediately = _state(target)
            staging_module.remove_orphans(case)  # what the next writer's start does
            after = _state(target)
            where = f"{mode}, {'fresh' if fresh else 'replace'}, {signum.name} at rename {when}: {done.stderr}"
            if fresh:  # before the only rename there was nothing, after it the new folder
                assert after in ((None, NEW) if signum == signal.SIGKILL else (NEW,)), where
            else:
                assert after in (OLD, NEW), where
            if mode == "exchange" and not fresh:
                assert immediately is not None, f"no complete folder at the target before recovery: {where}"
            if signum != signal.SIGKILL:
                # A signal held across the swap arrives after it: the write succeeded and says so.
                assert done.returncode == 0 and "written" in done.stdout, where
                assert "arrived while" in done.stderr and after == NEW, where
            assert sorted(p.name for p in case.iterdir()) == (["target"] if after else []), where
            KILL_POINTS.append((mode, "fresh" if fresh else "replace", when, signum.name))
    print(f"\nkill points covered ({mode}, {'fresh' if fresh else 'replace'}): {renames} renames x 3 signals")


def test_a_failed_second_rename_of_the_fallback_puts_the_old_folder_back(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "target"
    _make_old(target)
    monkeypatch.setattr(swap, "_renameat2", None)
    real_rename = swap.os.rename
    calls = []

    def failing_second(source, destination):  # noqa: ANN001, ANN202 - os.rename's signature
        calls.append(source)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_rename(source, destination)

    monkeypatch.setattr(swap.os, "rename", failing_second)
    with pytest.raises(OSError, match="No space"):
        with staging_module.staging(target, force=True, marker="manifest.json", kind="bundle") as folder:
            (folder / "manifest.json").write_text(NEW)
    assert _state(target) == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["target"]


def test_renameat2_exchange_swaps_two_folders(tmp_path: Path) -> None:
    if swap._renameat2 is None:
        pytest.skip("renameat2 is not available on this system")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "x").write_text("a")
    (second / "x").write_text("b")
    assert swap.renameat2(first, second, swap.RENAME_EXCHANGE)
    assert json.dumps([(first / "x").read_text(), (second / "x").read_text()]) == '["b", "a"]'
    with pytest.raises(FileExistsError):
        swap.renameat2(first, second, swap.RENAME_NOREPLACE)


def _export(run: Path, target: Path, *, signal_name: str, force: bool) -> subprocess.CompletedProcess:
    """`edgelstm export` with `signal_name` delivered at the first rename its own process makes (not -f:
    converters run in children)."""
    command = [STRACE, "-qq", "-o", "/dev/null", "-e", f"trace={RENAMES}", "-e",
               f"inject={RENAMES}:signal={signal_name}:when=1", sys.executable, "-m", "edgelstm", "export", str(run),
               "--out", str(target), "--variants", "onnx-fp32", *(["--force"] if force else [])]
    return subprocess.run(command, capture_output=True, text=True, timeout=600,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.slow
def test_export_force_and_a_fresh_export_signalled_at_their_rename_leave_a_complete_bundle(
        tiny_run: Path, bundle_copy: Path, tmp_path: Path) -> None:
    from edgelstm.runtime.bundle import Bundle

    old_manifest = (bundle_copy / "manifest.json").read_bytes()
    replaced = _export(tiny_run, bundle_copy, signal_name="SIGTERM", force=True)
    assert replaced.returncode == 0, replaced.stderr
    assert "SIGTERM arrived while" in replaced.stderr
    assert (bundle_copy / "manifest.json").read_bytes() != old_manifest
    assert list(Bundle.open(bundle_copy).variants) == ["onnx-fp32"]
    fresh = _export(tiny_run, tmp_path / "fresh", signal_name="SIGINT", force=False)
    assert fresh.returncode == 0, fresh.stderr
    assert list(Bundle.open(tmp_path / "fresh").variants) == ["onnx-fp32"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "fresh"]


@pytest.mark.slow
def test_train_force_signalled_at_its_exchange_leaves_a_complete_run(tiny_run: Path, tmp_path: Path) -> None:
    """Run directories go through the same swap: `edgelstm train --force` over a run, SIGTERM at its rename."""
    target = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    old_config = (target / "config.json").read_text()
    command = [STRACE, "-qq", "-o", "/dev/null", "-e", f"trace={RENAMES}", "-e",
               f"inject={RENAMES}:signal=SIGTERM:when=1", sys.executable, "-m", "edgelstm", "train", "--data",
               "synthetic", "--synthetic-size", "240", "--vocab-size", "120", "--maxlen", "24", "--embedding-dim", "8",
               "--lstm-units", "8", "--epochs", "1", "--batch-size", "32", "--calibration-size", "20", "--seed", "5",
               "--quiet", "--out", str(target), "--force"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "SIGTERM arrived while" in done.stderr, done.stderr
    assert (target / "config.json").read_text() != old_config
    assert {"model.keras", "tokenizer.json", "metrics.json", "validation.npz"} <= {p.name for p in target.iterdir()}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
