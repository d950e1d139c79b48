"""`edgelstm web BUNDLE --out DIR`: a static page that classifies text in the browser, offline."""

from __future__ import annotations

import argparse
import time

EXAMPLES = """examples:
  edgelstm web bundles/demo --out page/ --serve        # then open the printed http://127.0.0.1 address
  edgelstm web bundles/demo --out page/ --no-onnx      # MediaPipe only: 14 MB lighter
  edgelstm web bundles/demo --out page/ --npm-dir ~/offline-npm   # node_modules copied from another machine

The page's JavaScript packages (@mediapipe/tasks-text, onnxruntime-web) come from npm at the
versions pinned in edgelstm/web/package-lock.json: a checkout's `make install` installs them;
otherwise the first run installs them with `npm ci` into ~/.cache/edgelstm/npm/ (needs npm).
Every file the page loads is copied into DIR: host it on any static web server.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("bundle", help="bundle folder written by `edgelstm export`")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the page into")
    parser.add_argument("--force", action="store_true", help="replace DIR if it holds a page made by this command")
    parser.add_argument("--variant", help="the MediaPipe variant to run (default: the bundle's best one)")
    parser.add_argument("--no-onnx", dest="onnx", action="store_false",
                        help="leave out the ONNX client (onnxruntime-web and onnx-fp32)")
    parser.add_argument("--npm-dir", metavar="FOLDER", help="a folder holding node_modules/ with the pinned packages")
    parser.add_argument("--serve", action="store_true", help="then serve DIR on 127.0.0.1 until Ctrl-C")
    parser.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000; 0 picks a free one)")


def run(args: argparse.Namespace) -> int:
    from edgelstm.web import npm
    from edgelstm.web.page import build_page
    from edgelstm.web.server import PageServer

    packages = npm.find_packages(args.npm_dir)
    out = build_page(args.bundle, args.out, packages=packages, force=args.force,
                     mediapipe_variant=args.variant, onnx=args.onnx)
    if not args.serve:
        print(f"serve it with any static web server, e.g. `edgelstm web {args.bundle} --out {args.out} --force --serve`")
        return 0
    with PageServer(out, port=args.port) as server:
        print(f"serving {out} at {server.url} (Ctrl-C stops)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped")
    return 0
