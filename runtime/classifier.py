"""`Classifier`: a checked bundle plus one backend, turning raw text into labels.

    with Classifier.load("bundles/demo") as classifier:
        classifier.predict("a quietly wonderful film")  # Prediction(label='pos', ...)

Safe to share between threads: backends that are not thread-safe (TFLite
interpreters, the numpy backend's buffers) run one call at a time behind a
lock, and `close()` waits for calls in flight. Results do not depend on how
calls interleave.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from edgelstm.core.errors import BackendUnavailableError, BundleError, ConfigError, EdgeLSTMError, InputError
from edgelstm.core.outputs import LABEL_THRESHOLD, labels_of_width, scores_shape
from edgelstm.runtime import selection, signing, tuning
from edgelstm.runtime.backends import base
from edgelstm.runtime.bundle import Bundle
from edgelstm.runtime.padding import steps_from_lengths, steps_of_length
from edgelstm.runtime.tokenizer import KERAS_INDEX_FROM, KERAS_START_ID, PADDING_ID, VOCAB_OOV_ID

LOGGER = "edgelstm.runtime"

# Texts tokenized and run per pass: bounds memory for a batch of any size.
CHUNK_TEXTS = 256
TextLike = str | bytes | bytearray


class ClosedError(EdgeLSTMError, RuntimeError):
    """The classifier was used after close()."""


@dataclass(frozen=True)
class Prediction:
    """One text's result.

    label: name of the predicted label (the manifest's `task.labels`).
    label_id: its index: two labels, 1 when `score >= 0.5`; C >= 3 labels, the most probable one
        (a tie goes to the lower index).
    probability: how sure the model is of `label`: the probability of the label it
        chose, so at least 0.5 for two labels (0.97 for a clear "neg" as for a clear "pos")
        and at least 1/C for C labels.
    score: two labels: the model's raw output, the probability of label 1 (labels[1], e.g.
        "pos"), whatever label won: 0.03 for that clear "neg". Rank or threshold on `score`.
        C >= 3 labels: the same as `probability` (there is no single "positive" label; use
        `probabilities` to rank by any one label).
    tokens: words the model read (after truncation to the tokenizer's maxlen).
    known_tokens: how many of them are in the model's vocabulary. 0 means the model saw
        nothing it knows (an empty text, another language, only new words): its label
        then says nothing about the text.
    probabilities: every label's probability, in the order of `labels` (two labels: (1 - score, score)).
    """

    label: str
    label_id: int
    probability: float
    score: float
    tokens: int = 0
    known_tokens: int = 0
    probabilities: tuple[float, ...] = ()


class _CallGate:
    """Counts calls in flight so close() can wait for them; serializes calls when asked.

    Every call passes it, once per text at batch 1, so it is kept cheap: a plain lock under
    the condition, and a finished call wakes close() only once close() has begun (before
    that nobody waits, and close() reads the count before it waits).
    """

    def __init__(self, serialize: bool) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._lock = threading.Lock() if serialize else None
        self._active = 0
        self.closed = False

    def __enter__(self) -> None:
        with self._condition:
            if self.closed:
                raise ClosedError("this Classifier is closed: load the bundle again to classify")
            self._active += 1
        if self._lock is not None:
            self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()
        with self._condition:
            self._active -= 1
            if self.closed:
                self._condition.notify_all()

    def close(self) -> bool:
        """Refuse new calls, wait for running ones; True the first time."""
        with self._condition:
            first, self.closed = not self.closed, True
            self._condition.wait_for(lambda: self._active == 0)
        return first


class Classifier:
    """Classifies raw text with one variant of a bundle on one backend. Build it with `load`.

    One instance may serve many threads (see the module docstring); `close()` or a
    `with` block releases the interpreter, and no file of the bundle stays open
    meanwhile: models are read into memory once, after their checksum is checked.
    """

    def __init__(self, bundle: Bundle, backend: base.Backend, *, variant: str, backend_name: str) -> None:
        self.bundle = bundle
        self.variant = variant
        self.backend_name = backend_name
        self.tokenizer = bundle.tokenizer
        self.labels = bundle.labels
        self._backend: base.Backend | None = backend
        self._gate = _CallGate(serialize=not getattr(backend, "thread_safe", False))
        # True when texts skip their leading padding (runtime/padding.py).
        self.fast_path = bool(getattr(backend, "fast_path", False))

    @classmethod
    def load(cls, bundle: str | Path | Bundle, *, variant: str | None = None, backend: str | None = None,
             threads: int | None = None, fast_path: bool = True,
             trusted_keys: Iterable[signing.KeySource] | signing.KeySource | None = None) -> Classifier:
        """Open and check a bundle, choose a variant and backend, and load the model.

        variant: a name from the manifest; None picks `default_variant`, else the
            first passed variant in `variant_preference` an installed backend runs.
            A failed variant runs only when named, with a warning.
        backend: "litert", "tflite-runtime", "onnxruntime", "numpy", or None/"auto"
            for the best installed one that can run the variant.
        threads: row workers: up to this many rows (or length groups) of a batch run at
            once, each interpreter on one intra-op thread; what it means per backend is in
            `edgelstm.runtime.tuning`. None takes its default (1). Results do not depend on it.
        fast_path: skip each text's leading padding by starting from the bundle's
            precomputed padding states (same outputs, within the variant's bounds;
            1e-5 in float32). False, or a bundle made before the fast path, runs every
            text through all maxlen steps.
        trusted_keys: Ed25519 public keys of the publishers this device accepts (PEM
            paths, PEM bytes or key objects; `edgelstm keygen` writes them). Given, a
            bundle without a valid signature by one of them (`edgelstm sign`) is refused
            before anything else of it is parsed.

        The manifest and the tokenizer are checked, then only the files the chosen variant
        needs (its model or weights.npz, its padding states), each read once and parsed
        from exactly the bytes whose size and sha256 were checked; the other variants'
        files are not read, so a slim bundle (`edgelstm slim`) loads. Raises BundleError (bundle unusable),
        BackendUnavailableError (nothing installed can run it: the message names the
        pip extra or the variant to use instead) or ConfigError (bad argument).
        """
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"threads must be None or an int >= 1, got {threads!r}")
        opened = _opened(bundle, trusted_keys)
        plan = selection.plan(opened, variant=variant, backend=backend)
        if variant is not None and not selection.is_passed(opened, variant):
            warnings.warn(f"variant {variant} has status {opened.variant(variant).status!r} in "
                          f"{opened.root}: it missed its parity bounds at export", UserWarning, stacklevel=2)
        return cls._load_first(opened, plan, threads=threads, explicit_backend=backend not in (None, selection.AUTO),
                               fast_path=fast_path)

    @classmethod
    def _load_first(cls, bundle: Bundle, plan: list[selection.Option], *, threads: int | None,
                    explicit_backend: bool, fast_path: bool) -> Classifier:
        """Load the first option that works; an interpreter refusing a model moves `auto` to the next."""
        refusals = []
        for option in plan:
            try:
                backend = cls._open(bundle, option, threads, fast_path)
            except BackendUnavailableError as error:
                if explicit_backend:
                    hint = selection.suggest_instead(bundle, option.backend, exclude=option.variant)
                    raise BackendUnavailableError(f"{error}{hint}") from None
                _log_info("skipping %s on %s: %s", option.variant, option.backend, error)
                refusals.append(f"{option.variant} on {option.backend}: {error}")
                continue
            if option is not plan[0]:
                _log_info("using %s on %s (%s)", option.variant, option.backend, "; ".join(refusals) or "fallback")
            return cls(bundle, backend, variant=option.variant, backend_name=option.backend)
        tried = {option.variant for option in plan}
        hint = selection.suggest_variants(bundle, exclude=plan[0].variant) if len(tried) == 1 else ""
        raise BackendUnavailableError("no variant could be loaded here: " + "; ".join(refusals) + hint)

    @staticmethod
    def _open(bundle: Bundle, option: selection.Option, threads: int | None, fast_path: bool) -> base.Backend:
        entry = bundle.variant(option.variant)
        numpy = option.backend == "numpy"
        source = bundle.manifest.weights.file if numpy and bundle.manifest.weights else entry.file
        # numpy skips padding with a table of its own when the bundle has none; models need the
        # bundle's table and a variant entry that says its model takes a state.
        states = bundle.padding_states(None if numpy else option.variant) if fast_path else None
        if threads is None:
            threads = tuning.DEFAULT_THREADS
        backend = base.open_backend(option.backend, bundle.read_checked(source), entry.to_dict(), threads=threads,
                                    padding_states=states)
        steps = getattr(backend, "maxlen", None)
        rows = getattr(backend, "vocab_size", None)
        width = getattr(backend, "width", None)
        labels = len(bundle.labels)
        if width is not None and labels_of_width(width) != labels:
            backend.close()
            raise BundleError(f"{source} gives {width} output(s) per text but the manifest names {labels} labels: "
                              "the bundle is inconsistent; re-export it")
        if steps is not None and steps != bundle.tokenizer.maxlen:
            backend.close()
            raise BundleError(f"{entry.file} reads {steps} tokens but tokenizer.json pads to "
                              f"{bundle.tokenizer.maxlen}: the bundle is inconsistent; re-export it")
        if rows is not None and rows < bundle.tokenizer.vocab_size:
            backend.close()
            raise BundleError(f"{source} embeds {rows} ids but tokenizer.json gives ids up to "
                              f"{bundle.tokenizer.vocab_size - 1}: the bundle is inconsistent; re-export it")
        return backend

    # --- classification -------------------------------------------------------------------

    @overload
    def predict(self, texts: TextLike) -> Prediction: ...
    @overload
    def predict(self, texts: Iterable[TextLike]) -> list[Prediction]: ...

    def predict(self, texts):
        """Label and probability of each text; a single text gives one Prediction, a list a list.

        Accepted: str; bytes holding UTF-8; or an iterable of those (list, tuple,
        generator, numpy array of str). Defined results: an empty list gives [];
        an empty or punctuation-only text gives the model's output for all padding;
        a text of any length reads only what survives truncation (see
        `edgelstm.runtime.tokenizer`). Refused with InputError, naming the position:
        None, numbers or other non-text values, bytes that are not UTF-8.
        """
        self._check_open()
        if type(texts) is str or (type(texts) is list and len(texts) == 1):  # batch 1: see _run_one
            ids, scores = self._run_one(texts if type(texts) is str else _as_text(texts[0], 0))
            tokens, known = token_counts(ids, self.tokenizer.kind)
            prediction = self._prediction(scores[0], int(tokens[0]), int(known[0]))
            return prediction if type(texts) is str else [prediction]
        single = _is_single(texts)
        batch = as_texts(texts)
        results: list[Prediction] = []
        for start in range(0, len(batch), CHUNK_TEXTS):
            ids, lengths = self.tokenizer.encode_with_lengths(batch[start:start + CHUNK_TEXTS])
            tokens, known = token_counts(ids, self.tokenizer.kind)
            results += [self._prediction(scores, int(n), int(k))
                        for scores, n, k in zip(self._run_encoded(ids, lengths), tokens, known)]
        return results[0] if single else results

    def _prediction(self, scores: np.ndarray | np.floating, tokens: int, known: int) -> Prediction:
        """A Prediction from one row of probabilities: a scalar P(label 1) for two labels, else [C]."""
        if np.ndim(scores) == 0:
            score = float(scores)
            label_id = int(score >= LABEL_THRESHOLD)
            return Prediction(self.labels[label_id], label_id, score if label_id else 1.0 - score, score,
                              tokens, known, (1.0 - score, score))
        probabilities = tuple(float(p) for p in scores)
        label_id = int(np.argmax(scores))
        top = probabilities[label_id]
        return Prediction(self.labels[label_id], label_id, top, top, tokens, known, probabilities)

    @overload
    def predict_proba(self, texts: TextLike) -> float | np.ndarray: ...
    @overload
    def predict_proba(self, texts: Iterable[TextLike]) -> np.ndarray: ...

    def predict_proba(self, texts):
        """Two labels: the probability of label 1 (the sigmoid output), a float for one text and
        float32 [n] for many. C >= 3 labels: every label's probability in the order of `labels`,
        float32 [C] for one text and [n, C] for many (each row sums to 1).

        Same accepted input and errors as `predict`.
        """
        self._check_open()
        if type(texts) is str:  # batch 1: see _run_one
            scores = self._run_one(texts)[1]
            return float(scores[0]) if scores.ndim == 1 else scores[0]
        if type(texts) is list and len(texts) == 1:
            return self._run_one(_as_text(texts[0], 0))[1]
        single = _is_single(texts)
        batch = as_texts(texts)
        if len(batch) <= CHUNK_TEXTS:
            scores = self._run_texts(batch)
        else:
            scores = np.empty(self._shape(len(batch)), dtype=np.float32)
            for start in range(0, len(batch), CHUNK_TEXTS):
                chunk = batch[start:start + CHUNK_TEXTS]
                scores[start:start + len(chunk)] = self._run_texts(chunk)
        if single:
            return float(scores[0]) if scores.ndim == 1 else scores[0]
        return scores

    def _shape(self, rows: int) -> tuple[int, ...]:
        """The shape of `rows` texts' probabilities: [rows] for two labels, [rows, C] for C >= 3."""
        return scores_shape(rows, len(self.labels))

    def _run_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The batch-1 lane: (ids [1, maxlen], probabilities [1] or [1, C]) of one text, exactly what the batch
        path gives for [text] (tests compare them), with less work per call.

        An app calls the classifier once per text, and at batch 1 the batch path's small steps
        (a list of texts, a lengths array and the arithmetic on it, the chunk loop) added up to
        about a tenth of the model call. Here: one row encoded, its step count built from an int,
        one gated call to the backend. The text is checked as the batch path checks it.
        """
        ids, length = self.tokenizer.encode_one(text)
        # As _run_encoded: the tokenizer knows where the tokens start, the backend need not look.
        steps = steps_of_length(length) if self.tokenizer.padding == "pre" else None
        with self._gate:
            return ids, self._backend.predict_ids(ids, steps)

    def _run_texts(self, texts: list[str]) -> np.ndarray:
        return self._run_encoded(*self.tokenizer.encode_with_lengths(texts))

    def _run_encoded(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        # The tokenizer knows where each row's tokens start: the backend need not look for it.
        steps = steps_from_lengths(lengths) if self.tokenizer.padding == "pre" else None
        return self._run(ids, steps)

    def predict_ids(self, ids: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
        """Already-encoded input: integer ids [n, maxlen] -> float32 probabilities, as `predict_proba`
        gives them for many texts: of label 1 [n] (two labels), of every label [n, C] (C >= 3).

        Ids must be in [0, vocab_size); n may be 0. Anything else is an InputError.
        """
        self._check_open()
        return self._run(self.check_ids(ids))

    def encode(self, texts: TextLike | Iterable[TextLike]) -> np.ndarray:
        """Texts -> int32 ids [n, maxlen], exactly what `predict` feeds the model."""
        return self.tokenizer.encode(as_texts(texts))

    def check_ids(self, ids: Any) -> np.ndarray:
        """`ids` as an int32 [n, maxlen] array, or an InputError saying what is wrong with it."""
        try:
            array = np.asarray(ids)
        except (ValueError, TypeError) as error:
            raise InputError(f"ids must be an integer array [n, {self.tokenizer.maxlen}]: {error}") from None
        maxlen, vocab = self.tokenizer.maxlen, self.tokenizer.vocab_size
        if array.ndim != 2 or array.shape[1] != maxlen:
            raise InputError(f"ids must have shape [n, {maxlen}], got {list(array.shape)} "
                             "(one text: ids.reshape(1, -1); from text: Classifier.encode)")
        if array.size == 0:
            return array.astype(np.int32).reshape(0, maxlen)
        if not np.issubdtype(array.dtype, np.integer):
            raise InputError(f"ids must be integers, got dtype {array.dtype}")
        if array.min() < 0 or array.max() >= vocab:
            raise InputError(f"ids must lie in [0, {vocab}), got values from {array.min()} to {array.max()}")
        return array.astype(np.int32, copy=False)

    def bare_call(self, ids: np.ndarray | Sequence[Sequence[int]]) -> Any:
        """For benchmarks: the interpreter call that `predict_ids` makes for one row [1, maxlen], inputs
        prepared in advance, as a zero-argument callable (what driving the interpreter directly costs)."""
        self._check_open()
        row = self.check_ids(ids)
        if len(row) != 1:
            raise InputError(f"bare_call takes one row [1, {self.tokenizer.maxlen}], got {len(row)} rows")
        return self._backend.bare_call(row)

    def _run(self, ids: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        if len(ids) == 0:
            return np.empty(self._shape(0), dtype=np.float32)
        with self._gate:
            return self._backend.predict_ids(ids, steps)

    def _check_open(self) -> None:
        if self._gate.closed:
            raise ClosedError("this Classifier is closed: load the bundle again to classify")

    # --- lifetime ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._gate.closed

    def close(self) -> None:
        """Release the interpreter (waiting for calls in flight); later calls raise ClosedError."""
        if self._gate.close() and self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> Classifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Classifier({str(self.bundle.root)!r}, variant={self.variant!r}, backend={self.backend_name!r}, {state})"


def _log_info(message: str, *args: object) -> None:
    """Log to the "edgelstm.runtime" logger. `logging` is imported here, on the rare fallback that
    logs, rather than at import: it costs a few ms of `edgelstm predict`'s start-up, and neither
    numpy nor an interpreter package imports it."""
    import logging

    logging.getLogger(LOGGER).info(message, *args)


def _opened(bundle: str | Path | Bundle, trusted_keys: Any) -> Bundle:
    """The bundle opened for one variant's load; an already open one must carry a trusted signature."""
    if not isinstance(bundle, Bundle):
        return Bundle.open(bundle, check_files=False, trusted_keys=trusted_keys)
    keys = signing.trusted(trusted_keys)
    if keys is not None and bundle.signed_by not in keys:
        raise BundleError(f"bundle {bundle.root} was opened without a signature check by the trusted keys: "
                          "pass its path, or open it with Bundle.open(..., trusted_keys=...)")
    return bundle


def _is_single(texts: Any) -> bool:
    """One text (str, bytes, or a 0-d numpy array of one), rather than a collection of them."""
    return isinstance(texts, (str, bytes, bytearray)) or (isinstance(texts, np.ndarray) and texts.ndim == 0)


def token_counts(ids: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row of encoded `ids` [n, maxlen]: (tokens read, tokens in the vocabulary).

    Counted from the ids the model gets, so it holds for any tokenizer that keeps the
    id layout of `edgelstm.runtime.tokenizer` (0 padding; then OOV, or start and OOV).
    """
    if kind == "keras-imdb":
        tokens = np.count_nonzero((ids != PADDING_ID) & (ids != KERAS_START_ID), axis=1)
        return tokens, np.count_nonzero(ids >= KERAS_INDEX_FROM, axis=1)
    return np.count_nonzero(ids != PADDING_ID, axis=1), np.count_nonzero(ids > VOCAB_OOV_ID, axis=1)


def as_texts(texts: Any) -> list[str]:
    """Normalize `texts` to a list of str, or raise InputError naming the first bad item."""
    if isinstance(texts, np.ndarray) and texts.ndim == 0:
        texts = texts.item()  # np.array("good film"): one text
    if texts is None:
        raise InputError("texts is None: pass a str, UTF-8 bytes, or a list of them")
    if isinstance(texts, (str, bytes, bytearray)):
        return [_as_text(texts, 0)]
    if isinstance(texts, dict) or not isinstance(texts, Iterable):
        raise InputError(f"texts is {type(texts).__name__}: pass a str, UTF-8 bytes, or a list of them")
    return [_as_text(text, position) for position, text in enumerate(texts)]


def _as_text(text: Any, position: int) -> str:
    if isinstance(text, str):
        return str(text)  # numpy.str_ and other subclasses become plain str
    if isinstance(text, (bytes, bytearray)):
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"text #{position} is bytes that are not valid UTF-8 ({error.reason} at byte "
                             f"{error.start}): decode it with its real encoding first") from None
    shown = repr(text) if text is None or isinstance(text, (int, float)) else type(text).__name__
    raise InputError(f"text #{position} is {shown}, not text: pass str or UTF-8 bytes")
