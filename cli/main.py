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
  edgelstm train --data synthetic --out out/demo/run
  edgelstm train --data ../shared/data/imdb/imdb_train.csv.gz --out runs/imdb
  edgelstm export out/demo/run --out out/demo/bundle
  edgelstm verify out/demo/bundle
  edgelstm predict out/demo/bundle "a quietly wonderful film"
  edgelstm bench out/demo/bundle --out bench/
"""


# Import name of a missing package -> the extra that installs it, per verb where it differs.
EXTRAS = {"tensorflow": "train", "keras": "train", "vaderSentiment": "train", "tf2onnx": "export",
          "onnx": "export", "onnxruntime": "onnx", "ai_edge_litert": "litert", "matplotlib": "plot",
          "psutil": "bench", "tf_keras": "export"}
VERB_EXTRAS = {"export": "export"}  # export needs the whole export stack, TensorFlow included
# What export's child processes import, checked before it starts: a converter failing on a
# missing package would only say so per variant. Other verbs import in-process, after their
# arguments are checked, and a ModuleNotFoundError there names the extra (`missing_extra`).
VERB_NEEDS = {"export": ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime")}


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
    for name, (_, help_text) in COMMANDS.items():
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        _verb_options(sub, name, configure=verb in (None, name))
    return parser


def verb_parser(verb: str) -> argparse.ArgumentParser:
    """`verb`'s parser on its own (what `parse` runs intermixed parsing with)."""
    sub = argparse.ArgumentParser(prog=f"edgelstm {verb}", description=COMMANDS[verb][1])
    _verb_options(sub, verb, configure=True)
    return sub


def _verb_options(sub: argparse.ArgumentParser, verb: str, *, configure: bool) -> None:
    module_name = COMMANDS[verb][0]
    sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors")
    if configure:
        importlib.import_module(module_name).configure(sub)
    sub.set_defaults(_module=module_name)


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


def parse(argv: list[str], verb: str | None) -> argparse.Namespace:
    """The verb's arguments, with options allowed anywhere among its positionals.

    argparse stops a `nargs="*"` positional at the first option (`predict B --json T`
    would leave T unrecognized); intermixed parsing does not, but refuses subparsers,
    so the verb's own parser (configured as `build_parser(verb)` configures it) parses
    what follows the verb.
    """
    position = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if position is None:
        return build_parser().parse_args(argv)  # no verb: --help, --version or nothing
    if verb is None:
        import difflib

        close = difflib.get_close_matches(argv[position], COMMANDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        build_parser(argv[position]).error(f"unknown command {argv[position]!r}{hint} "
                                           f"(commands: {', '.join(COMMANDS)})")
    # The options before the verb (--debug); none, the usual case, needs no top-level parser built.
    top_debug = bool(position) and build_parser(verb).parse_args(argv[:position]).debug
    args = verb_parser(verb).parse_intermixed_args(argv[position + 1:])
    args.command, args._module = verb, COMMANDS[verb][0]
    args.debug = top_debug or getattr(args, "debug", False)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verb = requested_verb(argv)
    if verb in SINGLE_BLAS_VERBS and "numpy" not in sys.modules:
        for name in BLAS_THREAD_ENV:
            os.environ.setdefault(name, "1")
    args = parse(argv, verb)
    if not getattr(args, "command", None):
        build_parser().print_help()
        return 2
    try:
        _check_installed(args.command)
        module = importlib.import_module(args._module)
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("edgelstm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`edgelstm predict ... | head`): not an error of ours.
        # Point stdout at devnull so the interpreter's final flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ModuleNotFoundError as error:
        debug = getattr(args, "debug", False)
        hint = None if debug else missing_extra(error, args.command)
        if hint is None:
            return report_error(error, debug=debug)
        print(f"edgelstm: error: {hint}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - the one place errors become exit codes
        return report_error(error, debug=getattr(args, "debug", False))


def _check_installed(verb: str) -> None:
    """Raise ModuleNotFoundError for the first package `verb` needs that is not installed."""
    import importlib.util

    for name in VERB_NEEDS.get(verb, ()):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: blocked in sys.modules (None)
            found = False
        if not found:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def missing_extra(error: ModuleNotFoundError, verb: str) -> str | None:
    """"`edgelstm train` needs tensorflow: pip install 'edgelstm[train]'", or None for a bug of ours."""
    top = (error.name or "").split(".")[0]
    if top not in EXTRAS:
        return None
    extra = VERB_EXTRAS.get(verb, EXTRAS[top])
    return (f"`edgelstm {verb}` needs {top}, which is not installed here: "
            f"pip install 'edgelstm[{extra}]'")


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
