"""`edgelstm predict BUNDLE TEXT...`: classify raw texts from the command line, stdin or a file.

Input streams through in chunks of --batch-size texts: read a chunk, classify it,
write one line per text, so memory stays bounded for a file of any length. A
file (or stdin) holds one text per line, or JSON lines with a "text" field (an
"id" field is copied to the output); blank lines are skipped, and JSON output
carries each text's line number so results join back to their input.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple, TextIO

from edgelstm.runtime import pool
from edgelstm.runtime.backends.base import BACKENDS
from edgelstm.runtime.tuning import INTRA_OP_THREADS

# One line is read whole; a longer one is refused rather than exhausting memory.
MAX_LINE_BYTES = 64 * 1024 * 1024
DEFAULT_BATCH = 256
PREVIEW_CHARS = 60
FORMATS = ("auto", "lines", "jsonl")
UTF8_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")
ENGINES = ("local", "ray")

EXAMPLES = """examples:
  edgelstm predict bundles/demo "a quietly wonderful film" "two hours I will not get back"
  edgelstm predict bundles/demo --input reviews.txt --json > predictions.jsonl
  cat reviews.jsonl | edgelstm predict bundles/demo - --backend numpy
"""


class Record(NamedTuple):
    line: int | None  # 1-based line in the input; None for texts given as arguments
    text: str
    id: object = None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("bundle", help="bundle folder written by `edgelstm export`")
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify; '-' reads them from stdin")
    parser.add_argument("--input", metavar="FILE", help="read texts from FILE ('-' for stdin), one per line or JSON lines")
    parser.add_argument("--format", choices=FORMATS, default="auto",
                        help="input format of FILE/stdin; auto: JSON lines if the first line is a JSON object with \"text\"")
    parser.add_argument("--json", action="store_true", help="write one JSON object per text")
    parser.add_argument("--variant", help="variant to run (default: the bundle's default_variant)")
    parser.add_argument("--backend", default="auto", help=f"auto (default), {', '.join(BACKENDS)}")
    parser.add_argument("--threads", type=int, default=None,
                        help=f"row workers across a batch, each interpreter on {INTRA_OP_THREADS} thread "
                             "(default 1; see edgelstm.runtime.tuning)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"texts per chunk (default {DEFAULT_BATCH})")
    parser.add_argument("--key", action="append", metavar="NAME.pub",
                        help="trusted publisher key (repeatable): refuse the bundle unless one of them signed it")
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: this machine's processes (default); ray: Ray Data actors, on the cluster of "
                             "RAY_ADDRESS or a local Ray on 127.0.0.1 (pip install 'edgelstm[ray]'; needs --input FILE)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes that score chunks at once, each with its own interpreter on one thread; "
                             "output keeps input order and equals one process's (default 1; see edgelstm.runtime.pool)")
    parser.add_argument("--verbose", action="store_true", help="say on stderr which variant and backend run")


def run(args: argparse.Namespace) -> int:
    from edgelstm.core.errors import ConfigError
    from edgelstm.runtime.classifier import Classifier

    source = _source(args)
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    pool.check_workers(args.workers)
    if args.engine == "ray":
        return _run_ray(args, source)
    if args.workers > 1:
        return _run_pool(args, source)
    with Classifier.load(args.bundle, variant=args.variant, backend=args.backend, threads=args.threads,
                         trusted_keys=args.key) as classifier:
        if args.verbose:
            print(f"edgelstm: {classifier.variant} on {classifier.backend_name}", file=sys.stderr)
        # Someone typing lines gets each answer at once rather than after a full chunk.
        batch = 1 if source == STDIN and _interactive(sys.stdin.buffer) else args.batch_size
        try:
            for chunk in _chunks(_records(args, source), batch):
                _write(sys.stdout, chunk, classifier.predict([record.text for record in chunk]), as_json=args.json)
        except BrokenPipeError:
            _silence_stdout()  # `| head` closed the pipe: stop quietly, as Unix tools do
    return 0


def _run_pool(args: argparse.Namespace, source: str | None) -> int:
    """The same chunks as one process, scored on --workers processes, written in input order."""
    spec = pool.PoolSpec(str(args.bundle), variant=args.variant, backend=args.backend, threads=args.threads,
                         trusted_keys=tuple(args.key) if args.key else None)
    announce = (lambda loaded: print(f"edgelstm: {loaded}, {args.workers} workers", file=sys.stderr)) if args.verbose else None
    chunks = _pool_chunks(_chunks(_records(args, source), args.batch_size))
    try:
        for chunk, predictions in pool.score_chunks(spec, chunks, args.workers, on_ready=announce):
            _write(sys.stdout, chunk.payload, predictions, as_json=args.json)
    except BrokenPipeError:
        _silence_stdout()
    return 0


def _run_ray(args: argparse.Namespace, source: str | None) -> int:
    """Ray Data reads the file itself, so it needs one: not stdin, not texts as arguments."""
    from edgelstm.core.errors import ConfigError
    from edgelstm.runtime import ray_engine

    if source in (None, STDIN) or args.texts:
        raise ConfigError("--engine ray reads --input FILE (Ray Data reads the file itself): "
                          "give the texts as a file, or use the local engine")
    batches = ray_engine.score_file(source, bundle=str(args.bundle), variant=args.variant, backend=args.backend,
                                    fmt=args.format, workers=args.workers, batch_size=args.batch_size,
                                    trusted_keys=tuple(args.key) if args.key else None)
    try:
        for records, predictions in batches:
            _write(sys.stdout, records, predictions, as_json=args.json)
    except BrokenPipeError:
        _silence_stdout()
    return 0


def _pool_chunks(chunks: Iterable[list[Record]]) -> Iterator[pool.Chunk]:
    row = 1
    for records in chunks:
        lines = (records[0].line, records[-1].line) if None not in (records[0].line, records[-1].line) else (None, None)
        yield pool.Chunk([record.text for record in records], row, lines, records)
        row += len(records)


STDIN = "-"


def _source(args: argparse.Namespace) -> str | None:
    """Where texts stream from: STDIN, a file path, or None when they are all arguments."""
    from edgelstm.core.errors import ConfigError

    dashes = args.texts.count(STDIN)
    if dashes and args.input:
        raise ConfigError("give either '-' or --input, not both")
    if dashes > 1:
        raise ConfigError("'-' (stdin) may be given once")
    if not args.texts and not args.input:
        raise ConfigError("no texts: give them as arguments, '-' to read stdin, or --input FILE")
    if dashes or args.input == STDIN:
        return STDIN
    if args.input and not os.access(args.input, os.R_OK):
        raise ConfigError(f"cannot read --input {args.input}: no such readable file")
    if args.input and os.path.isdir(args.input):
        raise ConfigError(f"--input {args.input} is a folder: give a file of texts (one per line, or JSON lines)")
    return args.input


def _interactive(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _records(args: argparse.Namespace, source: str | None) -> Iterator[Record]:
    """Texts in order: arguments before '-', the stream, arguments after it."""
    cut = args.texts.index(STDIN) if STDIN in args.texts else len(args.texts)
    for position, text in enumerate(args.texts):
        _check_unicode(text, f"argument {position + 1}")
    yield from (Record(None, text) for text in args.texts[:cut])
    if source == STDIN:
        yield from read_records(sys.stdin.buffer, fmt=args.format, name="stdin")
    elif source is not None:
        with open(source, "rb") as stream:
            yield from read_records(stream, fmt=args.format, name=source)
    yield from (Record(None, text) for text in args.texts[cut + 1:])


def read_records(stream: BinaryIO, *, fmt: str = "auto", name: str = "input") -> Iterator[Record]:
    """Texts of a byte stream, line by line; JSON lines when `fmt` says so or auto-detects it."""
    for number, raw in enumerate(_lines(stream, name), start=1):
        if number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM):]  # an editor's byte-order mark is not part of the first text
        line = _decode(raw, name, number)
        if not line.strip():
            continue
        if fmt == "auto":
            fmt = "jsonl" if _looks_like_jsonl(line) else "lines"
        yield _json_record(line, name, number) if fmt == "jsonl" else Record(number, line)


def _lines(stream: BinaryIO, name: str) -> Iterator[bytes]:
    from edgelstm.core.errors import InputError

    while raw := stream.readline(MAX_LINE_BYTES + 1):
        if len(raw) > MAX_LINE_BYTES:
            raise InputError(f"{name}: a line is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; "
                             "give one text per line")
        yield raw


def _decode(raw: bytes, name: str, number: int) -> str:
    from edgelstm.core.errors import InputError

    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise InputError(f"{name} line {number} is not UTF-8 ({error.reason} at byte {error.start}): "
                         "convert the file to UTF-8, e.g. iconv -t utf-8") from None


def _looks_like_jsonl(line: str) -> bool:
    from edgelstm.core.errors import EdgeLSTMError
    from edgelstm.runtime.safeload import parse_json

    if not line.lstrip().startswith("{"):
        return False
    try:
        value = parse_json(line, "line")
    except EdgeLSTMError:
        return False
    return isinstance(value, dict) and "text" in value


def _json_record(line: str, name: str, number: int) -> Record:
    from edgelstm.core.errors import InputError
    from edgelstm.runtime.safeload import parse_json

    try:
        value = parse_json(line, f"{name} line {number}", error=InputError)
    except InputError as error:
        raise InputError(f"{error}; use --format lines for plain text") from None
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        raise InputError(f"{name} line {number}: expected a JSON object with a string field \"text\"")
    _check_unicode(value["text"], f"{name} line {number}")
    return Record(number, value["text"], value.get("id"))


def _check_unicode(text: str, where: str) -> None:
    """Refuse lone surrogates (a JSON "\\ud800" escape, or argument bytes that are not UTF-8):
    they are not text, and no output could print them."""
    from edgelstm.core.errors import InputError

    match = _SURROGATE.search(text)
    if match:
        raise InputError(f"{where} holds the lone surrogate U+{ord(match.group()):04X} at character {match.start()}, "
                         "which is not text: fix its encoding (UTF-8) or its JSON escapes")


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _write(out: TextIO, records: list[Record], predictions: list, *, as_json: bool) -> None:
    for record, prediction in zip(records, predictions):
        if as_json:
            row = {"label": prediction.label, "label_id": prediction.label_id,
                   "probability": round(prediction.probability, 6), "score": round(prediction.score, 6)}
            if record.line is not None:
                row["line"] = record.line
            if record.id is not None:
                row["id"] = record.id
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            out.write(f"{prediction.label}\t{prediction.probability:.4f}\t{_preview(record.text)}\n")
    out.flush()


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[:PREVIEW_CHARS - 3] + "..."


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
