"""Measured speed defaults of the runtime: thread counts and the batch grouping cost model, in one place.

Measured on the project's 2-core x86_64 machine (AVX2, no VNNI) with the IMDB bundle
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
these sizes; the intra-op split only adds synchronisation.) So one thread is the default
everywhere; `threads=` still overrides it.
"""

from __future__ import annotations

# Interpreter threads when the caller passes threads=None, per backend.
DEFAULT_THREADS: dict[str, int] = {"onnxruntime": 1, "litert": 1, "tflite-runtime": 1, "numpy": 1}

# Cost of one call on a dynamic-batch model, in microseconds, for grouping a batch by
# length (runtime/padding.py): CALL + steps * (STEP + ROW_STEP * rows). From onnxruntime
# fp32, 1 thread: 4.8 us per step at batch 1, 48 us per step at batch 32, 50 us per call.
CALL_US = 50.0
STEP_US = 3.4
ROW_STEP_US = 1.4


def default_threads(backend: str) -> int | None:
    return DEFAULT_THREADS.get(backend)
