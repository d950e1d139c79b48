"""What a model's output means and how it becomes a label: the kinds of the manifest's `task.output`."""

from __future__ import annotations

SIGMOID = "sigmoid"  # one output per text, the probability of label 1 (two labels)
SOFTMAX = "softmax"  # one probability per label; the label is the highest
OUTPUT_KINDS = (SIGMOID, SOFTMAX)
# Schema 1 wrote this sentence where schema 2 writes SIGMOID.
SCHEMA1_OUTPUT = "sigmoid probability of label 1"
# A sigmoid output's label is 1 at or above this: the argmax of (1 - p, p), a tie going to label 1.
LABEL_THRESHOLD = 0.5
