"""One measurement in a fresh process: `python -m edgelstm.benchmarks.worker`.

A fresh process per variant and backend makes its start-up, imports and memory
its own: nothing a previous interpreter loaded is shared. The protocol (JSON
spec on stdin, JSON result on stdout, progress on stderr) is in protocol.py.
Phases, in order: imports, load, first inference (together: the cold start),
single-stream latency on real-length and on full-length inputs, throughput at
a batch, parity on the golden set, accuracy on --data.
"""

from __future__ import annotations

import time

# The first statement after the future import: the interpreter's own start-up ends here.
STARTED_AT = time.time()

import importlib  # noqa: E402 - after the timestamp on purpose
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import IO, Any  # noqa: E402

from edgelstm.benchmarks import mediapipe_row  # noqa: E402
from edgelstm.benchmarks.memory import current_rss_mb, peak_rss_mb  # noqa: E402
from edgelstm.benchmarks.protocol import PROTOCOL_VERSION, TEXTS_FILE, dumps, progress_line  # noqa: E402
from edgelstm.benchmarks.stats import summarize, timed_calls  # noqa: E402

Predict = Callable[[Any], Any]
# Progress lines at most this often: enough for a live bar, too few to disturb timing.
PROGRESS_INTERVAL_S = 0.1
# Untimed batches before the throughput phase (a batch is already many calls).
MAX_BATCH_WARMUP = 2
# Rows per call when scoring the golden set and --data: untimed, so as large as memory
# comfortably allows (Keras pays a large fixed cost per call).
EVAL_BATCH = 256
# Key of the loaded Classifier in a bundle load's info: used by the raw-text phases, never reported.
CLASSIFIER = "_classifier"


class Reporter:
    """Throttled progress lines on stderr for the parent's progress bar."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done in (0, total) or now - self.last >= PROGRESS_INTERVAL_S:
            self.last = now
            print(progress_line(phase, done, total), file=sys.stderr, flush=True)

    def phase(self, name: str) -> Callable[[int, int], None]:
        return lambda done, total: self(name, done, total)


def claim_stdout() -> IO[str]:
    """Keep the real stdout for the result; send anything else printed there to stderr."""
    sys.stdout.flush()
    private = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return private


# --- the two kinds of model: a bundle variant on a backend, or the Keras original ---

def import_bundle_stack(spec: dict) -> None:
    """What a device app imports: the runtime and the interpreter package."""
    importlib.import_module("edgelstm.runtime.classifier")
    from edgelstm.runtime.backends.base import BACKENDS

    package = BACKENDS[spec["backend"]][1]
    importlib.import_module(package)
    # The interpreter classes live in a submodule; import it here so its cost counts as import, not load.
    if importlib.util.find_spec(f"{package}.interpreter") is not None:
        importlib.import_module(f"{package}.interpreter")


def load_bundle_model(spec: dict) -> tuple[Predict, dict]:
    """Bundle checks and interpreter creation, exactly what an app calls."""
    from edgelstm.runtime.classifier import Classifier

    classifier = Classifier.load(spec["bundle"], variant=spec["variant"], backend=spec["backend"],
                                 threads=spec["threads"])
    # Classifier.load with both names loads exactly that pair or raises: record what it says it loaded.
    # CLASSIFIER is the object itself, for the raw-text phases; measure() takes it out of the result.
    return classifier.predict_ids, {"loaded": {"variant": classifier.variant, "backend": classifier.backend_name},
                                    "fast_path": classifier.fast_path, CLASSIFIER: classifier}


def import_keras_stack(spec: dict) -> None:
    from edgelstm.benchmarks import keras_baseline

    keras_baseline.import_stack(spec["threads"])


def load_keras_model(spec: dict) -> tuple[Predict, dict]:
    from edgelstm.benchmarks import keras_baseline

    return keras_baseline.load(spec["keras_model"], mode=spec["keras_mode"])


KINDS: dict[str, tuple[Callable[[dict], None], Callable[[dict], tuple[Predict, dict]]]] = {
    "bundle": (import_bundle_stack, load_bundle_model),
    "keras": (import_keras_stack, load_keras_model),
}


# --- phases ---

def cold_start(spec: dict) -> tuple[Predict, dict, dict]:
    """Imports, load and first inference, each timed; the sum is what a new process pays."""
    import_stack, load = KINDS[spec["kind"]]
    start = time.perf_counter()
    import_stack(spec)
    imported = time.perf_counter()
    predict, info = load(spec)
    loaded = time.perf_counter()
    import numpy as np  # already imported by either stack

    predict(np.asarray([spec["first_ids"]], dtype=np.int32))
    first_done = time.perf_counter()
    timings = {"process_start_s": STARTED_AT - spec["spawned_at"], "import_s": imported - start,
               "load_s": loaded - imported, "first_inference_s": first_done - loaded,
               # wall clock from the parent's spawn to the first probability: the whole cold start
               "cold_start_s": time.time() - spec["spawned_at"]}
    return predict, info, timings


def latency(predict: Predict, ids: Any, spec: dict, progress: Callable[[int, int], None]) -> dict:
    """Single-stream latency at batch 1, cycling through `ids`."""
    rows = [ids[i:i + 1] for i in range(len(ids))]
    samples, stopped_by = timed_calls(lambda i: predict(rows[i % len(rows)]), warmup=spec["warmup"],
                                      runs=spec["runs"], seconds=spec["seconds"], on_progress=progress)
    return summarize(samples, stopped_by=stopped_by)


def throughput(predict: Predict, ids: Any, spec: dict, progress: Callable[[int, int], None]) -> dict:
    """Sequences per second at `batch_size`, batches drawn in turn from the real-length inputs."""
    import numpy as np

    size = spec["batch_size"]
    batches = [np.ascontiguousarray(ids[np.arange(k * size, (k + 1) * size) % len(ids)]) for k in range(8)]
    samples, stopped_by = timed_calls(lambda i: predict(batches[i % len(batches)]),
                                      warmup=min(spec["warmup"], MAX_BATCH_WARMUP), runs=spec["runs"],
                                      seconds=spec["seconds"], on_progress=progress)
    total = sum(samples)
    summary = summarize(samples, stopped_by=stopped_by)
    summary.pop("samples_ms")
    return {"batch_size": size, "batches": len(samples), "sequences": size * len(samples), "seconds": total,
            "sequences_per_s": size * len(samples) / total if total > 0 else None, "batch_latency": summary}


def latency_with_raw_text(classifier: Any, ids: Any, texts: list[str], spec: dict,
                          progress: Callable[[int, int], None]) -> dict[str, dict]:
    """Batch 1 three ways, in interleaved rounds so their ratios hold on a busy machine:
    `real` predict_ids on ids, `interpreter` the backend's bare interpreter call on the same ids
    (inputs prepared in advance), `text` predict_proba([text]) on the texts those ids encode."""
    from edgelstm.benchmarks.stats import interleaved_calls, summarize_interleaved

    rows = [ids[i:i + 1] for i in range(len(ids))]
    bare = [classifier.bare_call(row) for row in rows]
    calls = {"real": lambda i: classifier.predict_ids(rows[i % len(rows)]),
             "interpreter": lambda i: bare[i % len(bare)](),
             "text": lambda i: classifier.predict_proba([texts[i % len(texts)]])}
    timed = interleaved_calls(calls, warmup=spec["warmup"], runs=spec["runs"], seconds=3 * spec["seconds"],
                              on_progress=progress)
    return {name: summarize_interleaved(record) for name, record in timed.items()}


def text_throughput(classifier: Any, texts: list[str], spec: dict, progress: Callable[[int, int], None]) -> dict:
    """predict_proba on batches of `batch_size` raw texts, and the tokenizer alone on the same
    batches in interleaved rounds: how much of a batch's time is tokenization."""
    from edgelstm.benchmarks.stats import interleaved_calls, summarize_interleaved

    size = spec["batch_size"]
    batches = [[texts[(k * size + j) % len(texts)] for j in range(size)] for k in range(8)]
    calls = {"texts": lambda i: classifier.predict_proba(batches[i % len(batches)]),
             "tokenize": lambda i: classifier.tokenizer.encode_with_lengths(batches[i % len(batches)])}
    timed = interleaved_calls(calls, warmup=min(spec["warmup"], MAX_BATCH_WARMUP), runs=spec["runs"],
                              seconds=2 * spec["seconds"], on_progress=progress)
    whole, tokenize = (summarize_interleaved(timed[name]) for name in ("texts", "tokenize"))
    for summary in (whole, tokenize):
        summary.pop("samples_ms")
    return {"batch_size": size, "batch_latency": whole, "tokenize_latency": tokenize,
            "texts_per_s": 1000.0 * size / whole["p50_ms"] if whole["p50_ms"] else None,
            # medians: a preempted call on a shared machine inflates a sum, not a median
            "tokenize_share": tokenize["p50_ms"] / whole["p50_ms"] if whole["p50_ms"] else None,
            "tokenize_share_cpu": tokenize["cpu_p50_ms"] / whole["cpu_p50_ms"] if whole["cpu_p50_ms"] else None}


def read_texts(spec: dict) -> list[str] | None:
    path = os.path.join(os.path.dirname(spec["inputs"]), TEXTS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)["texts"] or None


def parity_phase(predict: Predict, spec: dict) -> dict:
    """Parity against the golden Keras outputs shipped in the bundle (runtime/parity.golden_parity)."""

    from edgelstm.core.variants import VARIANTS
    from edgelstm.runtime.bundle import Bundle
    from edgelstm.runtime.parity import golden_parity

    bundle = Bundle.open(spec["bundle"], check_files=False)
    golden = bundle.golden()  # parsed from the bytes checked against the manifest, as verify reads it
    probs = predict_in_batches(predict, golden["ids"], EVAL_BATCH)
    if spec["kind"] == "bundle":  # the bounds the export applied, as verify uses them
        tolerance = bundle.variant(spec["variant"]).tolerance
    else:  # the Keras baseline is held to the float32 bound: it must reproduce its own golden outputs
        tolerance = VARIANTS["tflite-fp32"].tolerance
    # labels of -1 (edge cases) count for |dp| and agreement, not for accuracy
    parity, _ = golden_parity(probs, golden, variant=spec["variant"], tolerance=tolerance)
    labels = golden.get("labels")
    return {**parity.to_dict(), "labelled": int((labels >= 0).sum()) if labels is not None else 0}


def predict_in_batches(predict: Predict, ids: Any, size: int) -> Any:
    """Probabilities of every row, `size` rows per call (bounded memory; few tf.function traces):
    float32 [n] for two labels, [n, C] for C >= 3 (edgelstm.core.outputs)."""
    import numpy as np

    from edgelstm.core.outputs import as_scores

    parts = [as_scores(predict(ids[start:start + size])) for start in range(0, len(ids), size)]
    return np.concatenate(parts) if parts else np.empty(0, np.float32)


def data_accuracy(predict: Predict, ids: Any, labels: Any) -> dict:
    import numpy as np

    from edgelstm.core.outputs import predicted_labels

    probs = predict_in_batches(predict, ids, EVAL_BATCH)
    correct = predicted_labels(probs) == labels
    return {"n": len(labels), "accuracy": 100.0 * float(correct.mean()), "non_finite": int((~np.isfinite(probs)).sum())}


def measure(spec: dict) -> dict:
    """Every phase of one spec; the result dict the parent stores as one row."""
    if spec["kind"] == mediapipe_row.KIND:  # raw text in, through the client an app ships
        return mediapipe_row.measure(spec, STARTED_AT)
    import_memory = current_rss_mb()
    report = Reporter()
    report("load", 0, 1)
    predict, info, timings = cold_start(spec)
    memory = {"rss_at_start_mb": import_memory, "rss_after_first_inference_mb": current_rss_mb(),
              "peak_after_first_inference_mb": peak_rss_mb()}
    import numpy as np

    with np.load(spec["inputs"], allow_pickle=False) as data:
        inputs = {key: data[key] for key in data.files}
    classifier = info.pop(CLASSIFIER, None)
    texts = read_texts(spec) if classifier is not None else None
    result = {"status": "ok", "protocol": PROTOCOL_VERSION, "timings": timings, **info}
    if texts is not None:  # a bundle row: ids, the bare interpreter and raw text side by side
        result["latency"] = latency_with_raw_text(classifier, inputs["latency_ids"], texts, spec, report.phase("latency"))
    else:
        result["latency"] = {"real": latency(predict, inputs["latency_ids"], spec, report.phase("latency"))}
    result["latency"]["full"] = latency(predict, inputs["full_ids"], spec, report.phase("full-length"))
    if "short_ids" in inputs:  # inputs written before the short-length phase existed have none
        result["latency"]["short"] = latency(predict, inputs["short_ids"], spec, report.phase("short-length"))
    result["throughput"] = throughput(predict, inputs["latency_ids"], spec, report.phase("throughput"))
    if texts is not None:
        result["text_throughput"] = text_throughput(classifier, texts, spec, report.phase("text-throughput"))
    report("parity", 0, 1)
    result["parity"] = parity_phase(predict, spec)
    if "data_ids" in inputs:
        report("accuracy", 0, 1)
        result["accuracy"] = data_accuracy(predict, inputs["data_ids"], inputs["data_labels"])
    memory["peak_rss_mb"] = peak_rss_mb()
    result["memory"] = memory
    # The device path must never pull TensorFlow in: recorded so tests and readers can check it.
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    return result


def main() -> int:
    result_stream = claim_stdout()
    try:
        spec = json.loads(sys.stdin.read())
        result = measure(spec)
    except Exception as error:  # noqa: BLE001 - any failure becomes an error row in the report
        traceback.print_exc(file=sys.stderr)
        result = {"status": "error", "error": f"{type(error).__name__}: {error}"}
    result_stream.write(dumps(result))
    result_stream.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
