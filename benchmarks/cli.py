"""`edgelstm bench`: measure a bundle's variants, or compare earlier runs.

Light at import (argparse only): the harness, numpy and the interpreters are
imported inside `run`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from edgelstm.benchmarks.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_RUNS,
    DEFAULT_SECONDS,
    DEFAULT_THREADS,
    DEFAULT_WARMUP,
    BenchSettings,
)
from edgelstm.runtime.cli_options import names

COMPARE_WORD = "compare"
# Under out/, which git ignores: results are records of one machine, not sources.
DEFAULT_OUT_ROOT = Path("out") / "bench"
EPILOG = """examples:
  edgelstm bench out/demo/bundle                                  # every variant x installed backend
  edgelstm bench bundles/imdb --data ../shared/data/imdb/imdb_train_sample2500.csv.gz \\
      --keras-model runs/imdb/model.keras --out bench/imdb
  edgelstm bench out/demo/bundle --variants onnx-dynint8,tflite-int8 --backends onnxruntime,litert --threads 2
  edgelstm bench compare bench/laptop/results.json bench/pi4/results.json --out bench/laptop-vs-pi4

Each variant runs in a fresh process (`python -m edgelstm.benchmarks.worker`), so its
start-up and memory are its own. Writes results.json (every figure and the machine),
results.md (tables) and, with matplotlib, PNG plots to --out.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("bundle", nargs="?", metavar="BUNDLE",
                        help=f"bundle folder to measure, or `{COMPARE_WORD}` followed by results.json files")
    parser.add_argument("results", nargs="*", metavar="RESULTS.json", help="with `compare`: the runs to put side by side")
    what = parser.add_argument_group("what to measure")
    what.add_argument("--variants", "--variant", type=names, action="extend", metavar="NAME[,NAME]",
                      help="variants to measure (default: every variant of the bundle)")
    what.add_argument("--backends", "--backend", type=names, action="extend", metavar="NAME[,NAME]",
                      help="backends to use (default: every installed one that runs a variant)")
    what.add_argument("--data", metavar="FILE", help="labelled CSV/JSONL (text,label): real-length latency inputs "
                      "and accuracy (default: the bundle's golden evaluation set)")
    what.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES, metavar="N",
                      help=f"texts of --data scored for accuracy, a fixed random sample "
                           f"(default {DEFAULT_MAX_EXAMPLES}, 0 = all)")
    what.add_argument("--keras-model", metavar="RUN/model.keras",
                      help="the original model for the Keras baseline rows "
                           "(default: the manifest's source run, if it still exists)")
    what.add_argument("--no-keras", dest="keras", action="store_false", help="skip the Keras baseline rows")
    what.add_argument("--no-browser", dest="browser", action="store_false",
                      help="skip the web page's rows in headless Chromium (measured where chromium and node are installed)")
    how = parser.add_argument_group("how long and how")
    how.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"timed calls per phase at most (default {DEFAULT_RUNS})")
    how.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help=f"untimed calls first (default {DEFAULT_WARMUP})")
    how.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                     help=f"seconds per phase at most, whichever of --runs/--seconds comes first (default {DEFAULT_SECONDS:g})")
    how.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                     help=f"throughput batch (default {DEFAULT_BATCH_SIZE})")
    how.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                     help=f"row workers across a batch, each interpreter on 1 thread (default {DEFAULT_THREADS}; "
                          "0 = the runtime's default; see edgelstm.runtime.tuning)")
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, metavar="DIR", help=f"where results go (default {DEFAULT_OUT_ROOT}/BUNDLE-NAME; "
                        "with compare: nothing written unless given)")
    output.add_argument("--no-plots", dest="plots", action="store_false", help="write no PNG plots")
    output.add_argument("--no-progress", dest="progress", action="store_false", help="no progress on stderr")
    output.add_argument("--compare", nargs="+", metavar="RESULTS.json", help="same as `bench compare RESULTS.json ...`")
    output.add_argument("--allow-different-bundles", action="store_true", help="compare runs of different bundles anyway")


def run(args: argparse.Namespace) -> int:
    if args.compare or args.bundle == COMPARE_WORD:
        return run_compare(args)
    from edgelstm.core.errors import ConfigError

    if not args.bundle:
        raise ConfigError("name a bundle to measure (edgelstm bench BUNDLE) or `edgelstm bench compare A.json B.json`")
    if args.results:
        raise ConfigError(f"unexpected arguments after the bundle: {' '.join(args.results)}")
    return run_bench(args)


def run_bench(args: argparse.Namespace) -> int:
    from edgelstm.benchmarks.harness import benchmark
    from edgelstm.benchmarks.machine import command_line
    from edgelstm.benchmarks.plots import make_plots
    from edgelstm.benchmarks.report import markdown, write_markdown, write_results

    settings = BenchSettings(variants=args.variants or [], backends=args.backends or [], warmup=args.warmup,
                             runs=args.runs, seconds=args.seconds, batch_size=args.batch_size, threads=args.threads,
                             max_examples=args.max_examples, keras=args.keras, plots=args.plots,
                             browser=args.browser)
    out = args.out or DEFAULT_OUT_ROOT / Path(args.bundle).resolve().name
    resolved = resolved_arguments(args, settings, out)
    results = benchmark(args.bundle, settings, data=args.data, keras_model=args.keras_model,
                        command=command_line(resolved), resolved_command=shlex.join(["edgelstm", *resolved]),
                        show_progress=args.progress)
    pngs: list[Path] = []
    if settings.plots:
        out.mkdir(parents=True, exist_ok=True)
        pngs, note = make_plots(results, out)
        if note:
            results["notes"].append(note)
    written = [write_results(results, out), write_markdown(results, out, plots=[str(p) for p in pngs]), *pngs]
    print(markdown(results))
    for note in results["notes"]:
        if note.startswith("warning: "):
            print(f"edgelstm: {note}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    failed = [row for row in results["rows"] if row.get("status") != "ok"]
    # Some rows failing is a finding (e.g. an interpreter that cannot run a variant); all failing is an error.
    return 1 if len(failed) == len(results["rows"]) else 0


def resolved_arguments(args: argparse.Namespace, settings: BenchSettings, out: Path) -> list[str]:
    """`bench` arguments with every setting explicit: reruns the same measurement whatever the defaults become."""
    argv = ["bench", str(args.bundle), "--runs", str(settings.runs), "--warmup", str(settings.warmup),
            "--seconds", f"{settings.seconds:g}", "--batch-size", str(settings.batch_size),
            "--threads", str(settings.threads), "--max-examples", str(settings.max_examples), "--out", str(out)]
    for option, values in (("--variants", settings.variants), ("--backends", settings.backends)):
        if values:
            argv += [option, ",".join(values)]
    for option, value in (("--data", args.data), ("--keras-model", args.keras_model)):
        if value:
            argv += [option, str(value)]
    argv += [flag for flag, off in (("--no-keras", not settings.keras), ("--no-plots", not settings.plots),
                                                 ("--no-browser", not settings.browser)) if off]
    return argv


def run_compare(args: argparse.Namespace) -> int:
    from edgelstm.benchmarks.compare import compare

    paths = list(args.compare or []) + list(args.results or [])
    text, written, notes = compare(paths, out=args.out, allow_different_bundles=args.allow_different_bundles,
                                   make_plot=args.plots)
    print(text)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if written:
        print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0
