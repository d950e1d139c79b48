"""`edgelstm bench`: latency, throughput, memory, size and accuracy of a bundle's variants.

Each variant runs in its own worker process (`edgelstm.benchmarks.worker`) so start-up
and memory are its own; the parent plans the rows (`runner`), prepares inputs once
(`inputs`), and writes results.json / results.md / plots (`report`, `plots`). Needs
only the runtime; TensorFlow only for the optional Keras baseline rows. See README.md.
"""
