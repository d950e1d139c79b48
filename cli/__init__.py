"""edgelstm: train a Keras LSTM text classifier, export it, run it on devices.

The top-level package holds only the version and the command line; the stages
live in `edgelstm.train`, `edgelstm.export`, `edgelstm.runtime` and
`edgelstm.benchmarks`.
"""

__version__ = "0.1.0"
