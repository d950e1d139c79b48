"""The run directory (docs/contracts.md, "Run directory"): its file names, its writer and its reader.

`edgelstm train` writes it (`staging` + `write_files`), `edgelstm evaluate` and
`edgelstm export` read it (`read_run`). The Keras model is the one file this
module never opens: train saves it, the export subprocesses and evaluate load it.

numpy is imported where arrays are read or written, so the names cost nothing to import.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgelstm.core import jsonio
from edgelstm.core import staging as _staging
from edgelstm.core.errors import DataError
from edgelstm.core.outputs import MAX_LABELS

if TYPE_CHECKING:
    import numpy as np

    from edgelstm.runtime.tokenizer import Tokenizer

MODEL = "model.keras"  # the trained Keras 3 model, without optimizer state
TOKENIZER = "tokenizer.json"  # edgelstm.runtime.tokenizer.Tokenizer.save()
CONFIG = "config.json"  # the resolved TrainConfig, every field
METRICS = "metrics.json"  # history, scores, labels, data fingerprint, versions
VALIDATION = "validation.npz"  # ids [n, maxlen], labels [n], lengths [n] (+ raw texts): the held-out split
CALIBRATION = "calibration.npz"  # ids [m, maxlen], labels [m]: class-balanced training rows for full int8
RUN_FILES = (MODEL, TOKENIZER, CONFIG, METRICS, VALIDATION, CALIBRATION)
VALIDATION_ARRAYS = ("ids", "labels", "lengths")
# Optional: the held-out rows' raw texts (edgelstm.runtime.textarrays' packed form), when the
# source has them; export checks the mobile variants on them through MediaPipe's own tokenizer.
VALIDATION_TEXT_ARRAYS = ("texts_utf8", "text_offsets")
CALIBRATION_ARRAYS = ("ids", "labels")
# The label of a row without one: an exported model file's rows drawn from its vocabulary
# (edgelstm.export.model_file), gated on agreement with Keras; accuracy counts labelled rows only.
UNLABELLED = -1
# A folder --force may replace: empty, or holding a run's config. Anything else is left alone.
RUN_MARKER = CONFIG

check_target = functools.partial(_staging.check_target, marker=RUN_MARKER, kind="run directory")
staging = functools.partial(_staging.staging, marker=RUN_MARKER, kind="run directory")


# --- writing ------------------------------------------------------------------------------------

def write_arrays(path: Path, **arrays: np.ndarray) -> None:
    import numpy as np

    np.savez_compressed(path, **arrays)  # compressed: the ids are mostly padding zeros


def write_files(folder: Path, *, tokenizer: Tokenizer, config: dict[str, Any], metrics: dict[str, Any],
                validation: dict[str, np.ndarray], calibration: dict[str, np.ndarray]) -> None:
    """Every file but the model (which only Keras can write) into `folder`."""
    tokenizer.save(folder / TOKENIZER)
    jsonio.write_json(folder / CONFIG, config)
    jsonio.write_json(folder / METRICS, metrics)
    write_arrays(folder / VALIDATION, **{key: validation[key] for key in VALIDATION_ARRAYS + VALIDATION_TEXT_ARRAYS
                                         if key in validation})
    write_arrays(folder / CALIBRATION, **{key: calibration[key] for key in CALIBRATION_ARRAYS})


# --- reading ------------------------------------------------------------------------------------

@dataclass
class RunDirectory:
    """A run directory whose files are present and whose arrays agree with its tokenizer."""

    root: Path
    config: dict[str, Any]  # config.json as written (edgelstm.train.config.TrainConfig.from_dict reads it)
    metrics: dict[str, Any]
    tokenizer: Tokenizer
    validation: dict[str, np.ndarray]  # the held-out split: ids [n, maxlen], labels [n] (0..C-1), lengths [n]

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


def read_run(root: str | Path) -> RunDirectory:
    """Check `root` holds every file of a run directory whose arrays fit its tokenizer; load the light ones."""
    from edgelstm.runtime.tokenizer import Tokenizer

    root = Path(root)
    if not root.is_dir():
        what = "no such folder" if not root.exists() else "not a folder"
        raise DataError(f"no run directory at {root} ({what}): expected a folder made by `edgelstm train` "
                        f"holding {', '.join(RUN_FILES)}")
    missing = [name for name in RUN_FILES if not (root / name).is_file()]
    if missing:
        raise DataError(f"{root} is not a complete run directory: it lacks {', '.join(missing)} "
                        f"(a run holds {', '.join(RUN_FILES)}); re-run `edgelstm train`")
    metrics = read_json(root / METRICS)
    classes = check_labels(root, metrics.get("labels"))
    tokenizer = Tokenizer.load(root / TOKENIZER)
    validation = read_arrays(root / VALIDATION, VALIDATION_ARRAYS)
    _check_ids(root / VALIDATION, validation, tokenizer.maxlen, classes)
    _check_ids(root / CALIBRATION, read_arrays(root / CALIBRATION, CALIBRATION_ARRAYS), tokenizer.maxlen, classes)
    return RunDirectory(root=root, config=read_json(root / CONFIG), metrics=metrics, tokenizer=tokenizer,
                        validation=validation)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def check_labels(root: Path, labels: Any) -> int:
    """The number of labels of a run whose metrics list 2 to MAX_LABELS distinct names (label 0 first)."""
    if not (isinstance(labels, list) and 2 <= len(labels) <= MAX_LABELS
            and all(isinstance(n, str) and n for n in labels) and len(set(labels)) == len(labels)):
        shown = repr(labels) if len(repr(labels)) <= 200 else repr(labels)[:200] + "..."
        raise DataError(f"{root / METRICS} must list 2 to {MAX_LABELS} different label names under 'labels' "
                        f"(name of 0, name of 1, ...), found {shown}")
    return len(labels)


def read_arrays(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise DataError(f"{path} lacks the array(s) {', '.join(missing)}: it must hold {', '.join(keys)}")
    return arrays


def _check_ids(path: Path, arrays: dict[str, np.ndarray], maxlen: int, classes: int) -> None:
    import numpy as np

    ids, labels = arrays["ids"], arrays["labels"]
    if ids.ndim != 2 or ids.shape[1] != maxlen or not np.issubdtype(ids.dtype, np.integer):
        raise DataError(f"{path}: ids must be integers of shape [n, {maxlen}] (the tokenizer's maxlen), "
                        f"found {ids.dtype} {list(ids.shape)}")
    if len(ids) == 0 or labels.shape != (len(ids),):
        raise DataError(f"{path}: needs at least one row and one label per row, found {len(ids)} rows "
                        f"and labels of shape {list(labels.shape)}")
    if not np.issubdtype(labels.dtype, np.integer) or not np.isin(labels, [*range(classes), UNLABELLED]).all():
        accepted = "0 or 1" if classes == 2 else f"0 to {classes - 1} (the run has {classes} labels)"
        raise DataError(f"{path}: labels must be {accepted} (or {UNLABELLED}: a row without one), found "
                        f"{sorted(set(labels.tolist()))[:5]}")
