"""The `edgelstm` command: one entry point, one verb per stage.

Every verb lives in a small module exposing `configure(parser)` and
`run(args) -> int`. Those modules import nothing heavy at import time, so
`edgelstm --help` and `edgelstm env` start fast; TensorFlow is imported inside
`run` of the verbs that need it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from edgelstm import __version__

# verb -> (module holding configure/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("edgelstm.train.cli", "train the LSTM classifier into a run directory"),
    "evaluate": ("edgelstm.train.cli_evaluate", "accuracy, loss and confusion matrix of a run on labelled data"),
    "export": ("edgelstm.export.cli", "convert a run to TFLite and ONNX variants in one checked bundle"),
    "verify": ("edgelstm.runtime.cli_verify", "check every variant of a bundle against its golden outputs on this device"),
    "predict": ("edgelstm.runtime.cli_predict", "classify raw texts with a bundle"),
    "slim": ("edgelstm.export.cli_slim", "write a smaller bundle holding only the chosen variants"),
    "keygen": ("edgelstm.runtime.cli_keygen", "make an Ed25519 key pair for signing bundles"),
    "sign": ("edgelstm.runtime.cli_sign", "sign a bundle so devices with the public key accept it"),
    "bench": ("edgelstm.benchmarks.cli", "latency, throughput, memory, size and accuracy of a bundle's variants"),
    "web": ("edgelstm.web.cli", "write a static web page that classifies text in the browser, offline"),
    "env": ("edgelstm.envinfo", "print Python, platform, CPU and library versions (for bug reports)"),
}

EPILOG = """examples:
  edgelstm train --data synthetic --out runs/demo
  edgelstm train --data ../shared/data/imdb/imdb_train.csv.gz --out runs/imdb
  edgelstm export runs/demo --out bundles/demo
  edgelstm verify bundles/demo
  edgelstm predict bundles/demo "a quietly wonderful film"
  edgelstm bench bundles/demo --out bench/
"""


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `verb`, only that verb's options are configured, so running
    one command imports only its own module (start-up time of `edgelstm predict` on a device)."""
    parser = argparse.ArgumentParser(
        prog="edgelstm",
        description="Train, export and run an LSTM text classifier on edge devices.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edgelstm {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors")
        if verb in (None, name):
            importlib.import_module(module_name).configure(sub)
        sub.set_defaults(_module=module_name)
    return parser


def requested_verb(argv: Sequence[str]) -> str | None:
    """The verb `argv` runs, when it names one: the first argument that is not a top-level option."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


# Device verbs run numpy's BLAS on one thread unless the user says otherwise: its pool spins a
# thread per core, and the runtime's products are small (the row workers are its parallelism,
# edgelstm.runtime.tuning). With the default pool, verify's NumPy checks of the demo bundle
# took 40x the CPU time. Read by OpenBLAS/MKL once, at numpy's import, hence here.
SINGLE_BLAS_VERBS = ("verify", "predict")
BLAS_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verb = requested_verb(argv)
    if verb in SINGLE_BLAS_VERBS and "numpy" not in sys.modules:
        for name in BLAS_THREAD_ENV:
            os.environ.setdefault(name, "1")
    parser = build_parser(verb)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("edgelstm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`edgelstm predict ... | head`): not an error of ours.
        # Point stdout at devnull so the interpreter's final flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # noqa: BLE001 - the one place errors become exit codes
        return report_error(error, debug=getattr(args, "debug", False))


def report_error(error: BaseException, *, debug: bool) -> int:
    """Print one clear line for a user error; a traceback only with --debug or for bugs."""
    from edgelstm.core.errors import EdgeLSTMError

    if debug:
        raise error
    if isinstance(error, EdgeLSTMError):
        print(f"edgelstm: error: {error}", file=sys.stderr)
        return error.exit_code
    print(f"edgelstm: internal error: {type(error).__name__}: {error}", file=sys.stderr)
    print("edgelstm: run again with --debug for the traceback, and report it with `edgelstm env`", file=sys.stderr)
    return 1
