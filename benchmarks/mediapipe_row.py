"""Bench rows for the mobile variants in MediaPipe Tasks' TextClassifier: raw text in, as an app calls it.

A row per mobile variant (backend "mediapipe") when mediapipe is installed. Its worker
times what an app pays: importing MediaPipe, creating the classifier from the file,
the first classify, then `classify(text)` per text over the bundle's evaluation texts
(MediaPipe's tokenizer included). Throughput is sequential texts per second: the
TextClassifier classifies one text per call. The result has the shape of the other
rows (latency.real, throughput, parity), so the report and the comparison read it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from edgelstm.core.variants import VARIANTS, parse_variants
from edgelstm.runtime.bundle import Bundle

BACKEND = "mediapipe"
KIND = "mediapipe"


def plan_rows(bundle: Bundle, variants: list[str], backends: list[str], notes: list[str]) -> list[dict[str, Any]]:
    """One row per mobile variant of the bundle, unless backends leave MediaPipe out."""
    from edgelstm.runtime import mediapipe_client

    if backends and BACKEND not in backends:
        return []
    wanted = [spec.name for spec in parse_variants(variants)] if variants else list(VARIANTS)
    mobile = [name for name in wanted if VARIANTS[name].is_mobile and name in bundle.variants]
    if mobile and not mediapipe_client.is_installed():
        notes.append(f"{BACKEND} skipped: it is not installed ({mediapipe_client.INSTALL_HINT})")
        return []
    return [{"kind": KIND, "variant": name, "backend": BACKEND,
             "variant_status": bundle.variant(name).status} for name in mobile]


def measure(spec: dict[str, Any], started_at: float) -> dict[str, Any]:
    """Every phase of one MediaPipe row (the worker calls this for kind "mediapipe")."""
    import numpy as np

    from edgelstm.benchmarks.memory import current_rss_mb, peak_rss_mb
    from edgelstm.benchmarks.protocol import PROTOCOL_VERSION
    from edgelstm.benchmarks.stats import summarize, timed_calls
    from edgelstm.core.outputs import as_scores
    from edgelstm.runtime import mediapipe_client, textarrays

    bundle = Bundle.open(spec["bundle"])
    golden = bundle.golden()  # parsed from the checked bytes, as verify reads it
    texts, has_text = textarrays.unpack(golden) or [], golden["has_text"]
    reference, labels = golden["keras_probs"][has_text], golden["labels"][has_text]
    full_rows = golden["lengths"][has_text] >= golden["ids"].shape[1]
    rows = np.flatnonzero(has_text)
    texts = [texts[row] for row in rows]
    facts = bundle.variant(spec["variant"]).mediapipe
    recorded = facts.differing_rows if facts is not None else ()
    differs = np.isin(rows, recorded)  # export's count of texts MediaPipe tokenizes unlike us
    memory = {"rss_at_start_mb": current_rss_mb()}
    classifier, timings = _cold_start(spec, texts[0], started_at)
    memory.update(rss_after_first_inference_mb=current_rss_mb(), peak_after_first_inference_mb=peak_rss_mb())
    # "full": texts that fill the whole window (truncated to maxlen tokens), as the other rows' full-length phase.
    long_texts = [text for text, full in zip(texts, full_rows) if full] or texts
    with classifier:
        samples, stopped_by = timed_calls(lambda i: classifier.classify(texts[i % len(texts)]), warmup=spec["warmup"],
                                          runs=spec["runs"], seconds=spec["seconds"])
        full_samples, full_stop = timed_calls(lambda i: classifier.classify(long_texts[i % len(long_texts)]),
                                              warmup=spec["warmup"], runs=spec["runs"], seconds=spec["seconds"])
        probs = as_scores([mediapipe_client.category_scores(classifier.classify(text), len(bundle.labels))
                           for text in texts])
    latency = summarize(samples, stopped_by=stopped_by)
    total = sum(samples)
    memory["peak_rss_mb"] = peak_rss_mb()
    return {"status": "ok", "protocol": PROTOCOL_VERSION, "timings": timings, "input": "raw text",
            "loaded": {"variant": spec["variant"], "backend": BACKEND},
            "latency": {"real": latency, "full": summarize(full_samples, stopped_by=full_stop)},
            "throughput": {"batch_size": 1, "sequences": len(samples), "seconds": total,
                           "sequences_per_s": len(samples) / total if total > 0 else None},
            "parity": _parity(probs, reference, labels, differs, spec["variant"]), "memory": memory,
            "tensorflow_imported": "tensorflow" in sys.modules}


def _cold_start(spec: dict[str, Any], first_text: str, started_at: float) -> tuple[Any, dict[str, float]]:
    from edgelstm.runtime import mediapipe_client

    start = time.perf_counter()
    mediapipe_client.import_text_classifier()
    imported = time.perf_counter()
    bundle = Bundle.open(spec["bundle"])
    classifier = mediapipe_client.open_classifier(bundle.read_checked(bundle.variant(spec["variant"]).file))
    loaded = time.perf_counter()
    classifier.classify(first_text)
    first = time.perf_counter()
    return classifier, {"process_start_s": started_at - spec["spawned_at"], "import_s": imported - start,
                        "load_s": loaded - imported, "first_inference_s": first - loaded,
                        "cold_start_s": time.time() - spec["spawned_at"]}



def _parity(probs: Any, reference: Any, labels: Any, differs: Any, variant: str) -> dict[str, Any]:
    from edgelstm.runtime.mediapipe_client import compare_raw_texts

    parity, _ = compare_raw_texts(probs, reference, variant=variant, labels=labels, differs=differs)
    return {**parity.to_dict(), "labelled": int((labels >= 0).sum()), "input": "raw text"}
