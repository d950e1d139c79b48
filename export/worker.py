"""The subprocess side of export: `python -m edgelstm.export.worker JOB.json`.

Each job (the Keras reference, one conversion, one check) runs in its own
process, so a converter that segfaults or leaks memory takes only that job with
it. The job file names its inputs and outputs; the worker writes a JSON result
beside them, {"ok": true, ...} or {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import faulthandler
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def reference(job: dict[str, Any]) -> dict[str, Any]:
    """Keras probabilities on the evaluation set, and weights.npz for the NumPy backend."""
    import numpy as np

    from edgelstm.export import keras_model

    model = keras_model.load_model(Path(job["model"]))
    arch = keras_model.architecture(model)
    np.save(job["probs_out"], keras_model.predict(model, np.load(job["eval_ids"])))
    np.savez(job["weights_out"], **keras_model.numpy_weights(model))
    tables = keras_model.padding_states(model, arch.maxlen)
    if tables:  # none for a bidirectional stack, which runs the padded way only
        np.savez(job["padding_states_out"], **tables)
    return {"architecture": arch.to_dict(), "head": arch.head_record()}


def import_model(job: dict[str, Any]) -> dict[str, Any]:
    """A Keras model file (.keras or legacy .h5) read as it is, checked to be in the recurrent family,
    saved as a run's model.keras without optimizer state (edgelstm.export.model_file)."""
    from edgelstm.export import keras_model, text_vectorization

    model = keras_model.load_model(Path(job["model"]))
    # A TextVectorization layer on the string input is the tokenizer: read it, then export the rest.
    vectorizer = text_vectorization.find(model)
    tokenizer = text_vectorization.settings(vectorizer) if vectorizer is not None else None
    if tokenizer is not None:
        model = text_vectorization.without_it(model, tokenizer["maxlen"])
    arch = keras_model.architecture(model)  # refuses a model outside the family, naming the layer
    # The same weights in a clean model: int32 ids [batch, maxlen] (a Sequential saved after `fit`
    # keeps fit's float input and batch size), no dropout layers, no optimizer.
    keras_model.twin(model, batch_size=None, state_inputs=False, keep_mask=True).save(job["out"])
    return {"architecture": arch.to_dict(), "head": arch.head_record(), "text_vectorization": tokenizer}


def convert(job: dict[str, Any]) -> dict[str, Any]:
    """Build one variant's file with its route's converter function (core/variants.py).

    A route that transforms another variant's file (onnx-dynint8 quantizes onnx-fp32) uses
    that file when this export built it, else builds it first with that variant's own route.
    """
    from edgelstm.export.jobs import ConversionJob

    model, calibration = Path(job["model"]), Path(job["calibration"])
    source = Path(job["source"]) if job.get("source") else None
    if source is not None and not source.is_file():
        _converter(job["source_converter"])(ConversionJob(model, source, job["source_precision"], calibration))
    optional = {key: Path(job[key]) for key in ("tokenizer", "probe") if job.get(key)}
    settings = _converter(job["converter"])(ConversionJob(model, Path(job["out"]), job["precision"], calibration,
                                                          source, labels=tuple(job.get("labels", ())), **optional))
    return {"converter": settings}


def _converter(path: str) -> Callable[[Any], dict[str, Any]]:
    """The function "module:function" names; only edgelstm's own export modules are accepted."""
    import importlib

    module, _, function = path.partition(":")
    if not module.startswith("edgelstm.export.") or not function:
        raise ValueError(f"converter {path!r} must name a function in edgelstm.export, as module:function")
    return getattr(importlib.import_module(module), function)


def check(job: dict[str, Any]) -> dict[str, Any]:
    """Inspect one exported file, then run it through the runtime's own backend for its route
    (the first the variant table names), as a device would, with TensorFlow unimportable."""
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # proves the device side needs no TF
    import numpy as np

    from edgelstm.core.manifest import POST_PADDED
    from edgelstm.export import inspect_model
    from edgelstm.runtime.padding import PADDING_STATES, PaddingStates

    path, backend_name = Path(job["file"]), job["backend"]
    if job["format"] == "tflite":
        info, keys = inspect_model.tflite_info(path), inspect_model.TFLITE_FIELDS
        problems = inspect_model.tflite_problems(info)
    else:
        info, keys = inspect_model.onnx_info(path), inspect_model.ONNX_FIELDS
        problems = inspect_model.onnx_problems(info, job.get("recurrent"))
    fast_path = inspect_model.fast_path_inputs(info)
    if bool(fast_path) != job["fast_path"]:  # the table and the file must agree on how a client feeds it
        problems.append(f"the variant table and the architecture say this route's model "
                        f"{'takes' if job['fast_path'] else 'lacks'} the state inputs, but the file "
                        f"{'has' if fast_path else 'has not'} them")
    if problems:  # e.g. never hand a Flex model to an interpreter that cannot run it
        return {"problems": problems}
    fields = {key: info[key] for key in keys}
    if fast_path:
        fields["fast_path"] = {"inputs": fast_path, "padding_states": PADDING_STATES}
    entry = {"file": path.name, "format": job["format"], "precision": job["precision"], **fields}
    if job.get("mediapipe"):  # the mobile layout: the runtime moves each row's ids to the front
        entry["mediapipe"] = {"input_layout": POST_PADDED}
    ids = np.load(job["eval_ids"])
    # The padded way, then (for a model with state inputs) the fast path from the bundle's table.
    np.save(job["probs_out"], _predict(backend_name, path, entry, ids, None))
    if fast_path:
        states = PaddingStates.load(Path(job["padding_states"]))
        np.save(job["fast_probs_out"], _predict(backend_name, path, entry, ids, states))
    if job.get("mediapipe"):
        _through_mediapipe(path, job["mediapipe"])
    return {"problems": [], "backend": backend_name, "fields": fields}


def _through_mediapipe(path: Path, job: dict[str, Any]) -> None:
    """The mobile file in MediaPipe's TextClassifier on the evaluation set's raw texts, and the probe's
    windows (the ids MediaPipe's tokenizer led to) for the same texts."""
    import numpy as np

    from edgelstm.runtime import mediapipe_client, textarrays

    with np.load(job["golden"], allow_pickle=False) as golden:
        texts, has_text, maxlen = textarrays.unpack(golden), golden["has_text"], golden["ids"].shape[1]
        probs = golden["keras_probs"]
    labels = 2 if probs.ndim == 1 else probs.shape[1]  # [n]: two labels; [n, C]: C labels
    chosen = [text for text, kept in zip(texts, has_text) if kept]
    np.savez(job["out"], probs=mediapipe_client.label_probabilities(path, chosen, labels=labels),
             windows=mediapipe_client.scores(Path(job["probe"]), chosen, labels=maxlen).astype(np.int32))


def _predict(backend_name: str, path: Path, entry: dict[str, Any], ids: Any, states: Any) -> Any:
    from edgelstm.runtime.backends.base import open_backend

    backend = open_backend(backend_name, path, entry, threads=1, padding_states=states)
    try:
        if states is not None and not backend.fast_path:
            raise RuntimeError(f"{path.name} has state inputs but the {backend_name} backend did not take the fast path")
        return backend.predict_ids(ids)
    finally:
        backend.close()


JOBS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"reference": reference, "convert": convert, "check": check,
                                                                "import_model": import_model}


def main(argv: list[str]) -> int:
    faulthandler.enable()  # a converter segfault then leaves a stack in the job log
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result_path = Path(job["result"])
    try:
        result = {"ok": True, **JOBS[job["kind"]](job)}
    except Exception as error:  # noqa: BLE001 - reported to the parent as this job's failure
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    result_path.write_text(json.dumps(result), encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
