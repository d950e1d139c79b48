"""Classifier as an embedder sees it: results, bad input, threads, and a clean close."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from edgelstm.core.outputs import LABEL_THRESHOLD
from edgelstm.runtime import Bundle, Classifier, ClosedError, InputError, Prediction, selection
from edgelstm.runtime.backends import base

# Backends with different threading stories: a locked interpreter, locked NumPy buffers,
# and a session that runs concurrently.
THREADING_BACKENDS = ("litert", "numpy", "onnxruntime")


def require(backend: str) -> None:
    if not base.is_installed(backend):
        pytest.skip(f"{backend} is not installed here ({base.describe_install(backend)})")


def sample_texts(bundle_dir: Path, count: int) -> list[str]:
    """Texts built from the bundle's own vocabulary, so they hit real ids, plus unknown words."""
    tokenizer = Bundle.open(bundle_dir).tokenizer
    words = tokenizer.words or sorted(tokenizer.word_index, key=tokenizer.word_index.get)[:200]
    rng = np.random.default_rng(5)
    return [" ".join(rng.choice(words + ["qqqunknown"], size=rng.integers(1, 40))) for _ in range(count)]


@pytest.fixture(scope="module")
def classifier(tiny_bundle: Path):
    with Classifier.load(tiny_bundle) as loaded:
        yield loaded


def test_predict_gives_labels_and_probabilities_consistent_with_predict_proba(classifier, tiny_bundle) -> None:
    texts = sample_texts(tiny_bundle, 20)
    predictions = classifier.predict(texts)
    scores = classifier.predict_proba(texts)
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float32 and scores.shape == (20,)
    assert len(predictions) == 20 and all(isinstance(p, Prediction) for p in predictions)
    for prediction, score in zip(predictions, scores):
        assert prediction.score == pytest.approx(float(score))
        assert prediction.label_id == int(score >= LABEL_THRESHOLD)
        assert prediction.label == classifier.labels[prediction.label_id]
        assert prediction.probability >= 0.5
        assert prediction.probability == pytest.approx(score if prediction.label_id else 1 - score)


def test_one_text_gives_one_result_and_ids_give_the_same_scores(classifier, tiny_bundle) -> None:
    text = sample_texts(tiny_bundle, 1)[0]
    single = classifier.predict(text)
    assert isinstance(single, Prediction)
    assert isinstance(classifier.predict_proba(text), float)
    assert classifier.predict([text])[0] == single
    ids = classifier.encode([text])
    assert classifier.predict_ids(ids)[0] == pytest.approx(single.score, abs=1e-6)
    assert classifier.predict(text.encode("utf-8")) == single  # UTF-8 bytes are text too


def test_batches_of_any_size_match_row_by_row(classifier, tiny_bundle) -> None:
    texts = sample_texts(tiny_bundle, 300)  # beyond one internal chunk of every backend
    together = classifier.predict_proba(texts)
    alone = np.array([classifier.predict_proba(t) for t in texts[:: 37]])
    np.testing.assert_allclose(together[:: 37], alone, atol=1e-5)
    assert classifier.predict_proba(iter(texts[:3])).shape == (3,)  # any iterable


def lane_texts(bundle_dir: Path) -> list:
    """Texts for the batch-1 lane: short, long, empty, punctuation, non-ASCII, past maxlen, bytes."""
    return [*sample_texts(bundle_dir, 6), "", "?!... ---", "Ｇｒｅａｔ café «film» 映画 좋은", "word " * 500,
            b"a caf\xc3\xa9 film"]  # UTF-8 bytes of "a café film"


@pytest.mark.parametrize("backend", THREADING_BACKENDS)
def test_batch_of_one_lane_gives_exactly_the_batch_paths_results(tiny_bundle, backend) -> None:
    """predict/predict_proba of one str or a one-item list take the batch-1 lane; a one-item tuple
    takes the batch path. Same scores to the bit and same types, on every variant the backend runs."""
    require(backend)
    bundle = Bundle.open(tiny_bundle)
    variants = selection.runnable_with(bundle, backend)
    assert variants, f"{backend} runs no variant of the tiny bundle"
    texts = lane_texts(tiny_bundle)
    for variant in variants:
        with Classifier.load(tiny_bundle, variant=variant, backend=backend) as classifier:
            batch = classifier.predict_proba(texts)
            for position, text in enumerate(texts):
                through_batch = classifier.predict_proba((text,))
                listed = classifier.predict_proba([text])
                assert isinstance(listed, np.ndarray) and listed.dtype == np.float32 and listed.shape == (1,)
                assert listed[0] == through_batch[0], (variant, text)
                assert classifier.predict([text]) == classifier.predict((text,)), (variant, text)
                if isinstance(text, str):  # a lone str is one text; lone bytes take the batch path
                    single = classifier.predict_proba(text)
                    assert isinstance(single, float) and single == float(through_batch[0]), (variant, text)
                    assert classifier.predict(text) == classifier.predict((text,))[0], (variant, text)
                # Within a batch, a row may share its call with others: the same within the fast path's bounds.
                assert listed[0] == pytest.approx(float(batch[position]), abs=1e-5), (variant, text)


@pytest.mark.parametrize("bad", [[None], [3], [float("nan")], [b"\xff\xfe bad"], [["nested"]], [{"text": "x"}]])
def test_a_bad_text_in_the_batch_of_one_lane_gets_the_batch_paths_one_line_error(classifier, bad) -> None:
    for method in (classifier.predict, classifier.predict_proba):
        with pytest.raises(InputError) as through_batch:
            method(tuple(bad))  # a tuple takes the batch path
        with pytest.raises(InputError) as through_lane:
            method(bad)
        assert str(through_lane.value) == str(through_batch.value)
        assert "text #0" in str(through_lane.value) and "\n" not in str(through_lane.value)


@pytest.mark.parametrize("bad, message", [
    (None, "texts is None"),
    ([None], "text #0 is None"),
    (["fine", 3], "text #1 is 3"),
    (["fine", float("nan")], "text #1 is nan"),
    ([b"ok", b"\xff\xfe bad"], "text #1 is bytes that are not valid UTF-8"),
    (42, "texts is int"),
    ({"text": "x"}, "texts is dict"),
    ([["nested"]], "text #0 is list"),
])
def test_bad_input_is_an_input_error_naming_what_is_wrong(classifier, bad, message) -> None:
    for method in (classifier.predict, classifier.predict_proba):
        with pytest.raises(InputError, match=message):
            method(bad)


def test_defined_results_for_empty_batches_empty_texts_and_huge_texts(classifier, tiny_bundle) -> None:
    assert classifier.predict([]) == []
    assert classifier.predict_proba([]).shape == (0,)
    assert classifier.predict_ids(np.zeros((0, classifier.tokenizer.maxlen), np.int32)).shape == (0,)
    padding_only = classifier.predict_ids(np.zeros((1, classifier.tokenizer.maxlen), np.int32))[0]
    assert classifier.predict_proba("") == pytest.approx(float(padding_only), abs=1e-6)
    assert classifier.predict_proba("?!... ---") == pytest.approx(float(padding_only), abs=1e-6)
    tail = sample_texts(tiny_bundle, 1)[0]
    huge = "filler words " * 800_000 + tail  # about 10 MB: only the kept end is read
    assert classifier.predict_proba(huge) == pytest.approx(classifier.predict_proba("filler words " * 50 + tail), abs=1e-6)


@pytest.mark.parametrize("ids, message", [
    (np.zeros((2, 3), np.int32), r"shape \[n, \d+\]"),
    (np.zeros(5, np.int32), r"shape \[n, \d+\]"),
    ("not ids", r"shape \[n, \d+\]"),
])
def test_bad_ids_are_input_errors(classifier, ids, message) -> None:
    with pytest.raises(InputError, match=message):
        classifier.predict_ids(ids)


def test_ids_out_of_range_or_not_integer_are_input_errors(classifier) -> None:
    maxlen, vocab = classifier.tokenizer.maxlen, classifier.tokenizer.vocab_size
    with pytest.raises(InputError, match=rf"\[0, {vocab}\)"):
        classifier.predict_ids(np.full((1, maxlen), vocab, np.int64))
    with pytest.raises(InputError, match=r"\[0, "):
        classifier.predict_ids(np.full((1, maxlen), -1))
    with pytest.raises(InputError, match="integers"):
        classifier.predict_ids(np.ones((1, maxlen), np.float32))


@pytest.mark.parametrize("backend", THREADING_BACKENDS)
def test_eight_threads_get_exactly_the_serial_results(tiny_bundle, backend) -> None:
    require(backend)
    texts = sample_texts(tiny_bundle, 50)
    with Classifier.load(tiny_bundle, backend=backend) as shared:
        serial = {text: shared.predict_proba(text) for text in texts}

        def worker(seed: int) -> list[tuple[str, float]]:
            order = np.random.default_rng(seed).integers(0, len(texts), size=500)
            return [(texts[i], shared.predict_proba(texts[i])) for i in order]

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = [pair for chunk in pool.map(worker, range(8)) for pair in chunk]
    assert len(results) == 8 * 500
    mismatches = [(text, score, serial[text]) for text, score in results if score != serial[text]]
    assert not mismatches, f"{len(mismatches)} threaded results differ from serial ones, e.g. {mismatches[0]}"


def test_close_during_concurrent_calls_ends_them_cleanly(tiny_bundle) -> None:
    classifier = Classifier.load(tiny_bundle)
    text = sample_texts(tiny_bundle, 1)[0]
    started, errors, done = threading.Barrier(5), [], []

    def worker() -> None:
        started.wait()
        try:
            while True:
                classifier.predict_proba(text)
                done.append(1)
        except ClosedError:
            return
        except Exception as error:  # noqa: BLE001 - anything but ClosedError is a bug, kept for the assert
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    started.wait()
    while not done:  # let the workers get going: at least one call finished
        threading.Event().wait(0.001)
    classifier.close()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)


def open_bundle_files(bundle_dir: Path) -> list[str]:
    """Descriptors and memory maps of this process that point into the bundle folder."""
    root = str(Path(bundle_dir).resolve())
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(root):
            found.append(target)
    with open("/proc/self/maps") as maps:
        found += [line.split()[-1] for line in maps if root in line]
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc to list open files")
@pytest.mark.parametrize("backend", tuple(base.BACKENDS))
def test_no_file_of_the_bundle_stays_open(tiny_bundle, backend) -> None:
    require(backend)
    fds_before = len(os.listdir("/proc/self/fd"))
    try:
        loaded = Classifier.load(tiny_bundle, backend=backend)
    except Exception as error:  # noqa: BLE001 - e.g. tflite-runtime beside numpy 2: nothing to check
        pytest.skip(f"{backend} cannot load here: {error}")
    with loaded as classifier:
        classifier.predict(["a text"])
        assert open_bundle_files(tiny_bundle) == []  # models are read into memory, not kept open or mapped
    assert classifier.closed
    assert open_bundle_files(tiny_bundle) == []
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    with pytest.raises(ClosedError, match="closed"):
        classifier.predict("again")
    classifier.close()  # closing twice is harmless


def test_empty_batch_on_a_closed_classifier_raises(tiny_bundle) -> None:
    classifier = Classifier.load(tiny_bundle)
    classifier.close()
    with pytest.raises(ClosedError):
        classifier.predict([])
    assert "closed" in repr(classifier)
