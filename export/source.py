"""Read and check the run directory export starts from (docs/contracts.md, "Run directory").

Pure numpy: the Keras model itself is only opened inside the conversion subprocesses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgelstm.core.errors import DataError
from edgelstm.runtime.tokenizer import Tokenizer

MODEL, TOKENIZER, CONFIG, METRICS = "model.keras", "tokenizer.json", "config.json", "metrics.json"
VALIDATION, CALIBRATION = "validation.npz", "calibration.npz"
RUN_FILES = (MODEL, TOKENIZER, CONFIG, METRICS, VALIDATION, CALIBRATION)


@dataclass
class Run:
    """A run directory whose files are present and whose arrays agree with its tokenizer."""

    root: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    tokenizer: Tokenizer
    validation: dict[str, np.ndarray]  # ids [n, maxlen], labels [n], lengths [n]

    @property
    def model_path(self) -> Path:
        return self.root / MODEL

    @property
    def calibration_path(self) -> Path:
        return self.root / CALIBRATION

    @property
    def labels(self) -> list[str]:
        return list(self.metrics["labels"])

    @property
    def maxlen(self) -> int:
        return self.tokenizer.maxlen

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))


def read_run(root: str | Path) -> Run:
    """Check `root` holds every file of a run directory and load the light ones."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"no run directory at {root}: expected a folder made by `edgelstm train` "
                        f"holding {', '.join(RUN_FILES)}")
    missing = [name for name in RUN_FILES if not (root / name).is_file()]
    if missing:
        raise DataError(f"{root} is not a complete run directory: {', '.join(missing)} missing "
                        f"(a run holds {', '.join(RUN_FILES)}); re-run `edgelstm train`")
    metrics = _read_json(root / METRICS)
    _check_labels(root, metrics.get("labels"))
    tokenizer = Tokenizer.load(root / TOKENIZER)
    validation = _read_arrays(root / VALIDATION, ("ids", "labels", "lengths"))
    _check_ids(root / VALIDATION, validation, tokenizer.maxlen)
    calibration = _read_arrays(root / CALIBRATION, ("ids", "labels"))
    _check_ids(root / CALIBRATION, calibration, tokenizer.maxlen)
    return Run(root=root, config=_read_json(root / CONFIG), metrics=metrics, tokenizer=tokenizer,
               validation=validation)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def _check_labels(root: Path, labels: Any) -> None:
    if not (isinstance(labels, list) and len(labels) == 2 and all(isinstance(n, str) and n for n in labels)):
        raise DataError(f"{root / METRICS} must list the two label names under 'labels' "
                        f"(name of 0, name of 1), found {labels!r}")


def _read_arrays(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise DataError(f"{path} lacks the array(s) {', '.join(missing)}: it must hold {', '.join(keys)}")
    return arrays


def _check_ids(path: Path, arrays: dict[str, np.ndarray], maxlen: int) -> None:
    ids, labels = arrays["ids"], arrays["labels"]
    if ids.ndim != 2 or ids.shape[1] != maxlen or not np.issubdtype(ids.dtype, np.integer):
        raise DataError(f"{path}: ids must be integers of shape [n, {maxlen}] (the tokenizer's maxlen), "
                        f"found {ids.dtype} {list(ids.shape)}")
    if len(ids) == 0 or labels.shape != (len(ids),):
        raise DataError(f"{path}: needs at least one row and one label per row, found {len(ids)} rows "
                        f"and labels of shape {list(labels.shape)}")
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"{path}: labels must be 0 or 1, found {sorted(set(labels.tolist()))[:5]}")
