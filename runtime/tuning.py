"""Measured speed defaults of the runtime: thread counts and the batch grouping cost model, in one place.

Measured on the project's 2-core x86_64 machine (AVX-512 with VNNI) with the IMDB bundle
(LSTM 128, 200 tokens), onnxruntime 1.32 and ai-edge-litert 2.3, median of 200 calls:

| backend, model          | batch | 1 thread           | 2 threads          |
| ---                     | ---   | ---                | ---                |
| onnxruntime fp32        | 1     | 0.95 ms            | 2.36 ms            |
| onnxruntime fp32        | 32    | 9.7 ms (0.30/row)  | 29.1 ms            |
| onnxruntime dynint8     | 1     | 0.48 ms            | 0.77 ms            |
| onnxruntime dynint8     | 32    | 4.7 ms             | 13.0 ms            |
| litert WHILE dynint8    | 1     | 0.99 ms            | 1.39 ms            |
| litert WHILE fp32       | 1     | 1.05 ms            | 2.75 ms            |

(200 dependent steps of a 128 x 512 product leave a second thread nothing to share at
these sizes; the intra-op split only adds synchronisation.) So every interpreter runs
INTRA_OP_THREADS = 1, and `threads=N` (Classifier.load, `edgelstm predict/bench --threads`)
means N row workers instead: different rows, length groups or chunks of one batch run at
the same time, each a single-threaded call exactly as one worker makes it, so results are
bit-identical to threads=1 (runtime/backends/_workers.py). Per backend:

- onnxruntime: N pool threads share the session (InferenceSession.run is thread-safe and
  releases the GIL); the units are rows for dynint8, length groups for fp32.
- litert, tflite-runtime: N interpreters (not thread-safe), one per worker; worker k runs
  rows k, k + N, ... one per invoke, with reset_all_variables() before each as before.
- numpy: the backend's 32-row chunks run N at once (numpy releases the GIL in its
  products); a batch of 32 or fewer rows is one chunk, so it gains only above 32 rows.
  BLAS stays on 1 thread: 2 BLAS threads plus 2 workers doubled the batch-64 time, and
  OpenBLAS's pool spins: verify's NumPy checks of the demo bundle took 4.3 s of CPU with
  the default pool against 0.11 s with OPENBLAS_NUM_THREADS=1. `edgelstm verify` and
  `predict` set it (unless already set, cli/main.py); an app using the numpy backend sets
  OPENBLAS_NUM_THREADS=1 before importing numpy.

Batch 32 of varied-length texts, one warm Classifier, mean of 50 calls (same machine):

| backend, model          | threads=1 | threads=2 |
| ---                     | ---       | ---       |
| onnxruntime dynint8     | 4.07 ms   | 2.43 ms   |
| onnxruntime fp32        | 4.25 ms   | 3.08 ms   |
| litert WHILE fp32       | 11.1 ms   | 6.0 ms    |
| litert fused dynint8    | 31.0 ms   | 16.0 ms   |
| numpy fp32, batch 64    | 24.2 ms   | 18.1 ms   |

A single row (batch 1) always runs on the calling thread, so single-stream latency does
not change. The default stays 1 worker: a device app shares its cores with other work,
and batch 1 cannot use a second one; a batch job passes threads=os.cpu_count().
"""

from __future__ import annotations

import os

# Row workers when the caller passes threads=None (or 0), on every backend: the one default (why: above).
DEFAULT_THREADS = 1
# Intra-op threads of every interpreter: a second one only slows this model (table above).
INTRA_OP_THREADS = 1
# Backends that split a batch among row workers; any other runs it on the calling thread.
ROW_PARALLEL_BACKENDS = frozenset({"onnxruntime", "litert", "tflite-runtime", "numpy"})

# Cost of one call on a dynamic-batch model, in microseconds, for grouping a batch by
# length (runtime/padding.py): CALL + steps * (STEP + ROW_STEP * rows). From onnxruntime
# fp32, 1 thread: 4.8 us per step at batch 1, 48 us per step at batch 32, 50 us per call.
CALL_US = 50.0
STEP_US = 3.4
ROW_STEP_US = 1.4


def verify_threads() -> int:
    """Row workers of `verify` when none are asked for: one per core. verify is a batch job over
    the golden set that owns the device while it runs, and rows split among workers give
    results identical to one worker, so it checks exactly the same in less time."""
    return max(1, os.cpu_count() or 1)


def row_workers(backend: str, threads: int | None) -> int:
    """Workers across a batch's rows for `threads` (None: the default) on `backend`."""
    if backend not in ROW_PARALLEL_BACKENDS:
        return 1
    return max(1, threads or DEFAULT_THREADS)
