"""Serve a page folder on 127.0.0.1 from a thread: for `edgelstm web --serve`, the tests and the bench.

A browser will not run wasm from `file://`, so the page needs a web server; this one
binds the loopback address only, picks a free port unless told one, sends the MIME
types wasm and ES modules need, and stops when its `with` block ends.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
MIME_TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
              ".json": "application/json", ".tflite": "application/octet-stream",
              ".onnx": "application/octet-stream"}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Requests are not news; the tests read them from the browser instead."""

    def end_headers(self) -> None:
        # A page rebuilt into the same folder must not run yesterday's cached model.
        self.send_header("Cache-Control", "no-store")
        # Cross-origin isolation: the page's own files only, and performance.now() in microseconds
        # rather than the 0.1 ms steps a browser gives a page that is not isolated.
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()


class PageServer:
    """`with PageServer(folder) as server: server.url` serves `folder` until the block ends."""

    def __init__(self, folder: str | Path, *, port: int = 0) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self._httpd = http.server.ThreadingHTTPServer((HOST, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="edgelstm-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._httpd.server_address[1]}/"

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
