"""Command-line options that several verbs share, spelled and parsed the same way on each.

`--variant`/`--variants` and `--backend`/`--backends` are aliases everywhere: a verb
that takes several accepts repeats and comma-separated lists; a verb that runs one
takes one name under either spelling. `--threads 0` means the runtime's default on
every verb. Pure argparse: the light `predict`/`verify` verbs import it on a device.
"""

from __future__ import annotations

import argparse

from edgelstm.runtime.backends.base import BACKENDS
from edgelstm.runtime.tuning import INTRA_OP_THREADS


def names(value: str) -> list[str]:
    """'a,b' -> ['a', 'b'] (argparse type for NAME[,NAME] options)."""
    parts = [part.strip() for part in value.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"{value!r} has an empty name: give NAME or NAME,NAME")
    return parts


def one_name(option: str):
    """argparse type for an option that takes a single name under a plural alias too."""
    def parse(value: str) -> str:
        parts = names(value)
        if len(parts) != 1:
            raise argparse.ArgumentTypeError(f"{option} takes one name here, got {value!r}")
        return parts[0]
    return parse


def add_variant_option(parser: argparse.ArgumentParser, *, many: bool, help: str) -> None:
    """--variant/--variants: a list (dest `variant`, None when absent) or one name."""
    if many:
        parser.add_argument("--variant", "--variants", dest="variant", type=names, action="extend",
                            metavar="NAME[,NAME]", help=f"{help} (repeatable, comma-separated)")
    else:
        parser.add_argument("--variant", "--variants", dest="variant", type=one_name("--variant"),
                            metavar="NAME", help=help)


def add_backend_option(parser: argparse.ArgumentParser, *, many: bool, help: str, default: str | None = None) -> None:
    """--backend/--backends, over the runtime's backends; dest `backend`."""
    choices = f"{', '.join(BACKENDS)}"
    if many:
        parser.add_argument("--backend", "--backends", dest="backend", type=names, action="extend",
                            metavar="NAME[,NAME]", help=f"{help} ({choices}; repeatable, comma-separated)")
    else:
        parser.add_argument("--backend", "--backends", dest="backend", type=one_name("--backend"),
                            default=default, metavar="NAME", help=f"{help} (auto, {choices})")


def threads(value: str) -> int | None:
    """argparse type of --threads: an int >= 0; 0 becomes None, the runtime's default."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number: give 0 (default) or more") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"{count} is negative: give 0 (the runtime's default) or more")
    return count or None


THREADS_HELP = (f"row workers across a batch, each interpreter on {INTRA_OP_THREADS} thread; 0 or absent: the runtime's "
                "default per backend (1; see edgelstm.runtime.tuning)")


def add_threads_option(parser: argparse.ArgumentParser, help: str = THREADS_HELP) -> None:
    """--threads N (0 or absent: None, the runtime's default); `help` says what N counts on this verb."""
    parser.add_argument("--threads", type=threads, default=None, metavar="N", help=help)
