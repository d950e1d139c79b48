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
from pathlib import Path
from typing import Any

from edgelstm.runtime.errors import ConfigError
from edgelstm.train.config import TrainConfig, config_fields

EXAMPLES = """examples:
  edgelstm train --data synthetic --out runs/demo
  edgelstm train --data ../shared/data/imdb/imdb_train.csv.gz --out runs/imdb
  edgelstm train --data reviews.jsonl --text-column body --label-column stars --out runs/mine
  edgelstm train --data imdb --imdb-npz ~/Downloads/imdb.npz --out runs/keras-imdb
  edgelstm train --config runs/imdb/config.json --seed 1 --out runs/imdb-seed1
"""


def _label_names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(","))


def _option_kwargs(spec: dataclasses.Field) -> dict[str, Any]:
    annotation = str(spec.type)
    kwargs: dict[str, Any] = {"dest": spec.name, "default": argparse.SUPPRESS,
                              "help": f"{spec.metadata['help']} (default: {spec.default})"}
    if annotation == "bool":
        kwargs["action"] = argparse.BooleanOptionalAction
    elif annotation.startswith("tuple"):
        kwargs.update(type=_label_names, metavar="NAME0,NAME1")
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
    from edgelstm.train.fit import train  # keeps `edgelstm --help` free of numpy-heavy imports

    # A `kill` must clean up the temporary run folder like Ctrl-C does.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        run_dir = train(config, args.out, force=args.force, verbose=_verbosity(args.quiet))
    finally:
        signal.signal(signal.SIGTERM, previous)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    print(summary(run_dir, metrics))
    return 0
