"""Parity bounds: one line per variant, the only place they are set.

Export gates every variant on these against the Keras model, and `verify`
checks the same bounds on the device. A bound is on the sigmoid probability
(|dp|), on the share of labels equal to the Keras labels, and on the drop of
accuracy in percentage points.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    max_abs_diff: float | None  # None: reported, not bounded (quantized outputs move by design)
    min_label_agreement: float  # fraction of labels equal to Keras'
    max_accuracy_drop: float  # percentage points below Keras' accuracy


TOLERANCES: dict[str, Tolerance] = {
    # float32 end to end: only summation order differs; measured 4e-7 (WHILE) to 8e-5 (fused).
    "tflite-fp32": Tolerance(max_abs_diff=1e-4, min_label_agreement=1.0, max_accuracy_drop=0.0),
    # float16 weights dequantized to float32 at load: 11-bit mantissa, errors of 1e-3 are expected.
    "tflite-fp16": Tolerance(max_abs_diff=1e-2, min_label_agreement=0.99, max_accuracy_drop=0.5),
    # int8 weights, float activations: labels must hold, probabilities move by up to a few 1e-2.
    "tflite-dynint8": Tolerance(max_abs_diff=None, min_label_agreement=0.99, max_accuracy_drop=0.5),
    # int8 weights and activations, calibrated: the loosest, still bounded on labels and accuracy.
    "tflite-int8": Tolerance(max_abs_diff=None, min_label_agreement=0.99, max_accuracy_drop=0.5),
    # one fused LSTM node in float32; measured 2.4e-7 in onnxruntime.
    "onnx-fp32": Tolerance(max_abs_diff=1e-4, min_label_agreement=1.0, max_accuracy_drop=0.0),
    # DynamicQuantizeLSTM: int8 weights; measured |dp| 4e-3..1.2e-2 with identical labels.
    "onnx-dynint8": Tolerance(max_abs_diff=None, min_label_agreement=0.99, max_accuracy_drop=0.5),
}

# The sigmoid output is P(label 1); the label is 1 at or above this.
LABEL_THRESHOLD = 0.5

# The fast path (runtime/padding.py) against the padded way on the same float32 variant and
# backend: the same arithmetic from a state computed by Keras' cell instead of by the model,
# so only summation order differs; measured 7e-8 (litert WHILE) and 1.2e-7 (onnxruntime) on IMDB.
# Quantized variants are held to their own bounds above on both paths instead.
FAST_PATH_MAX_DIFF_FP32 = 1e-6

# The same MediaPipe .tflite in the browser (wasm, @mediapipe/tasks-text) and in Python
# MediaPipe: one C++ core, so only the compiler's float code differs; measured 1.2e-7.
BROWSER_VS_PYTHON_MAX_DIFF = 1e-6
