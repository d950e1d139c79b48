"""The export stage: a run directory in, a checked bundle out (docs/contracts.md).

`edgelstm.export.pipeline.export_run` is the entry point (`edgelstm export` on the
command line). This package's own process never imports TensorFlow: the Keras
reference, each conversion and each check run in child processes
(`edgelstm.export.worker`), so a converter crash fails one variant, not the export.
"""
