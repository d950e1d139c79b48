"""The browser client of a bundle: a static page that classifies text offline.

`edgelstm web BUNDLE --out DIR` writes DIR/index.html, the bundle's mobile variant
(run by MediaPipe Tasks' `@mediapipe/tasks-text`) and, when the bundle has it, its
ONNX float32 variant (run by `onnxruntime-web` with the tokenizer in JavaScript),
with every script and wasm file copied into DIR: the page loads nothing from
anywhere but its own folder. This package imports nothing heavy.
"""
