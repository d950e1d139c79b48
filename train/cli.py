"""`edgelstm train`: one option per TrainConfig field, built from the field's metadata.

Defaults live in TrainConfig only: an option left out keeps the config's default (or the
value of `--config FILE`), so the help text and the run agree by construction.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from edgelstm.core import rundir
from edgelstm.core.errors import ConfigError
from edgelstm.train import distributed, watchdog
from edgelstm.train.config import TrainConfig, config_fields

EXAMPLES = """examples:
  edgelstm train --data synthetic --out out/demo/run
  edgelstm train --data ../shared/data/imdb/imdb_train.csv.gz --out runs/imdb
  edgelstm train --data reviews.jsonl --text-column body --label-column stars --out runs/mine
  edgelstm train --data imdb --imdb-npz ~/Downloads/imdb.npz --out runs/keras-imdb
  edgelstm train --config runs/imdb/config.json --seed 1 --out runs/imdb-seed1
"""


def _label_names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(","))


def _widths(text: str) -> tuple[int, ...]:
    """'64,32' -> (64, 32); TrainConfig checks the range."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of integers, e.g. 64 or 64,32") from None


def _option_kwargs(spec: dataclasses.Field) -> dict[str, Any]:
    annotation = str(spec.type)
    kwargs: dict[str, Any] = {"dest": spec.name, "default": argparse.SUPPRESS,
                              "help": f"{spec.metadata['help']} (default: {spec.default})"}
    if annotation == "bool":
        kwargs["action"] = argparse.BooleanOptionalAction
    elif annotation == "tuple[int, ...]":
        kwargs.update(type=_widths, metavar="N[,N...]")
    elif annotation.startswith("tuple"):
        kwargs.update(type=_label_names, metavar="NAME0,NAME1[,...]")
    else:
        base = annotation.split("|")[0].strip()
        kwargs.update(type={"int": int, "float": float, "str": str}[base], metavar=base.upper())
    return kwargs


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("--out", required=True, metavar="RUN", help="run directory to write (must not exist)")
    parser.add_argument("--force", action="store_true", help="replace an existing run directory")
    parser.add_argument("--config", metavar="FILE", help="start from this config.json (e.g. a previous run's); "
                                                         "options given here override it")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, only the summary line")
    parser.add_argument("--distribute", choices=distributed.STRATEGIES, default="none",
                        help="multi-worker: this process is one worker of the cluster in TF_CONFIG "
                             "(tf.distribute.MultiWorkerMirroredStrategy; --batch-size stays the global batch)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="start N multi-worker processes on this machine (127.0.0.1) and train on them")
    parser.add_argument("--cluster-timeout", type=float, default=distributed.DEFAULT_CLUSTER_TIMEOUT_S,
                        metavar="SECONDS", help="how long a worker waits for the whole cluster to join "
                                                f"(default {distributed.DEFAULT_CLUSTER_TIMEOUT_S:.0f})")
    for spec in config_fields():
        parser.add_argument("--" + spec.name.replace("_", "-"), **_option_kwargs(spec))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """--config FILE (if any), then every option given on the command line."""
    values: dict[str, Any] = _read_config(Path(args.config)) if args.config else {}
    values.update({spec.name: getattr(args, spec.name) for spec in config_fields() if hasattr(args, spec.name)})
    return TrainConfig.from_dict(values)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config {path} does not exist: pass a config.json, e.g. RUN/config.json") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"--config {path} is not JSON ({error})") from None


def _launch_local(args: argparse.Namespace, config: TrainConfig) -> int:
    from edgelstm.train import launch

    if args.distribute != "none":
        raise ConfigError("--workers starts its own local cluster: leave out --distribute (a worker of a "
                          "TF_CONFIG cluster is started with --distribute multi-worker and no --workers)")
    launch.check_workers(args.workers)
    if not args.force:
        rundir.check_target(Path(args.out), force=False)  # refuse before starting N processes
    # The chief prints the summary; the launcher only says when a worker failed.
    return launch.launch(config.to_dict(), args.out, workers=args.workers, force=args.force, quiet=args.quiet,
                         cluster_timeout=args.cluster_timeout)


def _supervise(args: argparse.Namespace, config: TrainConfig) -> int:
    """A multi-worker worker runs as a child of this process, which holds --cluster-timeout."""
    from edgelstm.train import launch

    cluster = distributed.cluster_from_options(args.distribute, timeout=args.cluster_timeout)
    with tempfile.TemporaryDirectory(prefix="edgelstm-worker-") as folder:
        config_file = Path(folder) / "config.json"
        config_file.write_text(json.dumps(config.to_dict()), encoding="utf-8")
        command = launch.worker_command(config_file, args.out, force=args.force, quiet=args.quiet,
                                        cluster_timeout=args.cluster_timeout)
        return watchdog.supervise(command, cluster, args.cluster_timeout)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def summary(run: Path, metrics: dict[str, Any]) -> str:
    validation = metrics["validation"]
    kept, best, ran = metrics["kept_epoch"], metrics["best_epoch"], metrics["epochs_run"]
    epochs = f"best epoch {best} of {ran} kept" if kept == best else f"last epoch {kept} kept (best was {best})"
    return (f"trained {run} in {metrics['training_seconds']:.0f} s: {epochs}, validation accuracy "
            f"{validation['accuracy']:.4f} (loss {validation['loss']:.4f}) on {validation['examples']:,} examples; "
            f"labels {metrics['labels'][0]}/{metrics['labels'][1]}")


def _verbosity(quiet: bool) -> int:
    """Keras progress bars on a terminal; one line per epoch in a log file (bars would flood it)."""
    if quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.workers is not None:
        return _launch_local(args, config)
    if args.distribute != "none" and not watchdog.is_worker():
        return _supervise(args, config)
    # Before anything else starts TensorFlow: the strategy must be the first thing it sets up.
    distribution = distributed.from_options(args.distribute, timeout=args.cluster_timeout)
    from edgelstm.train.fit import train  # TensorFlow loads only to train: `edgelstm --help` stays light

    # A `kill` while training (the run's staging folder exists only at the end) stops like Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        run_dir = train(config, args.out, force=args.force, verbose=_verbosity(args.quiet or not distribution.is_chief),
                        distribution=distribution)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if run_dir is None:
        return 0  # a worker other than the chief: the chief writes the run directory and the summary
    metrics = rundir.read_json(run_dir / rundir.METRICS)
    print(summary(run_dir, metrics))
    return 0
