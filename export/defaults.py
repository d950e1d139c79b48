"""Defaults of `edgelstm export` that its help prints: importable without numpy or TensorFlow."""

# Held-out validation texts in the evaluation set (golden.npz): one flipped label is 0.2
# accuracy points, fine enough for the quantized variants' bounds (core/variants.py).
DEFAULT_HELD_OUT = 500
