"""`edgelstm predict BUNDLE TEXT...`: classify raw texts from the command line, stdin or a file.

Input streams through in chunks of --batch-size texts: read a chunk, classify it,
write one line per text, so memory stays bounded for a file of any length. A
file (or stdin) holds one text per line, or JSON lines with a "text" field (another
with --text-field; an "id" field is copied to the output); blank lines are skipped,
and JSON output carries each text's line number so results join back to their input.
A bad line (not JSON, no text field, not UTF-8) stops the stream after the results of
the lines before it, naming the line; --skip-bad-lines skips and counts such lines.

Output per text: label, probability (how sure the model is of that label, >= 0.5) and,
with --json, score (probability of the second label, e.g. pos, for ranking and your own
threshold), tokens and known_tokens (words read and how many the model knows; a text
with none known gets a warning on stderr: its label is a guess).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple, TextIO

from edgelstm.runtime import cli_options, pool

# One line is read whole; a longer one is refused rather than exhausting memory.
MAX_LINE_BYTES = 64 * 1024 * 1024
DEFAULT_BATCH = 256
PREVIEW_CHARS = 60
FORMATS = ("auto", "lines", "jsonl")
UTF8_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")
ENGINES = ("local", "ray")

EXAMPLES = """output: LABEL <tab> PROBABILITY <tab> TEXT, one line per text. PROBABILITY is how sure
the model is of LABEL (the chosen label's probability, so at least 0.5); --json adds
"score", the probability of the second label (e.g. pos) whatever the label, for ranking
or a threshold of your own, and "tokens"/"known_tokens": words read and how many the
model knows (none known: a warning on stderr, the label is a guess).

examples:
  edgelstm predict out/demo/bundle "a quietly wonderful film" "two hours I will not get back"
  edgelstm predict out/demo/bundle --json "great film"
  edgelstm predict out/demo/bundle --input reviews.txt --json > predictions.jsonl
  edgelstm predict out/demo/bundle --input reviews.jsonl --text-field body --skip-bad-lines
  cat reviews.jsonl | edgelstm predict out/demo/bundle - --backend numpy
"""


class Record(NamedTuple):
    line: int | None  # 1-based line in the input; None for texts given as arguments
    text: str
    id: object = None


class BadLine(NamedTuple):
    """A line that holds no usable text; the stream goes on only with --skip-bad-lines."""
    line: int
    reason: str


# Texts without a known word are named on stderr up to this many; then only counted.
UNKNOWN_WARNINGS = 5


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("bundle", help="bundle folder written by `edgelstm export`")
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify; '-' reads them from stdin")
    parser.add_argument("--input", metavar="FILE", help="read texts from FILE ('-' for stdin), one per line or JSON lines")
    parser.add_argument("--format", choices=FORMATS, default="auto",
                        help="input format of FILE/stdin; auto: JSON lines if the first line is a JSON object")
    parser.add_argument("--text-field", default="text", metavar="KEY",
                        help="JSON lines: the key holding the text (default: text)")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="skip lines that are not JSON, lack the text field or are not UTF-8, and count them")
    parser.add_argument("--json", action="store_true",
                        help="write one JSON object per text: label, probability, score, tokens, known_tokens")
    cli_options.add_variant_option(parser, many=False, help="variant to run (default: the bundle's default_variant)")
    cli_options.add_backend_option(parser, many=False, default="auto", help="interpreter to use (default auto)")
    cli_options.add_threads_option(parser)
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
    _refuse_run_directory(args.bundle)
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
        report = _Report("stdin" if source == STDIN else source or "arguments")
        try:
            for chunk in _chunks(_records(args, source), batch):
                records = [item for item in chunk if isinstance(item, Record)]
                predictions = classifier.predict([record.text for record in records])
                _write(sys.stdout, records, predictions, as_json=args.json)
                report.unknown(records, predictions)
                for bad in (item for item in chunk if isinstance(item, BadLine)):
                    report.bad(bad, skip=args.skip_bad_lines)
        except BrokenPipeError:
            _silence_stdout()  # `| head` closed the pipe: stop quietly, as Unix tools do
        report.summary()
    return 0


def _run_pool(args: argparse.Namespace, source: str | None) -> int:
    """The same chunks as one process, scored on --workers processes, written in input order."""
    spec = pool.PoolSpec(str(args.bundle), variant=args.variant, backend=args.backend, threads=args.threads,
                         trusted_keys=tuple(args.key) if args.key else None)
    announce = (lambda loaded: print(f"edgelstm: {loaded}, {args.workers} workers", file=sys.stderr)) if args.verbose else None
    report = _Report("stdin" if source == STDIN else source or "arguments")
    chunks = _pool_chunks(_chunks(_records(args, source), args.batch_size), report, skip=args.skip_bad_lines)
    try:
        for chunk, predictions in pool.score_chunks(spec, chunks, args.workers, on_ready=announce):
            _write(sys.stdout, chunk.payload, predictions, as_json=args.json)
            report.unknown(chunk.payload, predictions)
    except BrokenPipeError:
        _silence_stdout()
    report.summary()
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
                                    trusted_keys=tuple(args.key) if args.key else None,
                                    text_field=args.text_field)
    try:
        for records, predictions in batches:
            _write(sys.stdout, records, predictions, as_json=args.json)
    except BrokenPipeError:
        _silence_stdout()
    return 0


def _pool_chunks(chunks: Iterable[list[Record | BadLine]], report: _Report, *, skip: bool) -> Iterator[pool.Chunk]:
    row = 1
    for chunk in chunks:
        records = [item for item in chunk if isinstance(item, Record)]
        if records:
            lines = (records[0].line, records[-1].line) if None not in (records[0].line, records[-1].line) else (None, None)
            yield pool.Chunk([record.text for record in records], row, lines, records)
            row += len(records)
        for bad in (item for item in chunk if isinstance(item, BadLine)):  # after what came before it
            report.bad(bad, skip=skip)


class _Report:
    """Warnings on stderr: texts with no known word, skipped bad lines."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.unknown_count = 0
        self.unknown_named: list[str] = []
        self.skipped: list[BadLine] = []

    def unknown(self, records: list[Record], predictions: list) -> None:
        """Noted now, said at the end: an error stopping the stream stays its one stderr line."""
        for record, prediction in zip(records, predictions):
            if prediction.known_tokens:
                continue
            self.unknown_count += 1
            if self.unknown_count <= UNKNOWN_WARNINGS:
                where = f"line {record.line}" if record.line is not None else repr(_preview(record.text))
                self.unknown_named.append(f"{where}: none of its {prediction.tokens} words is in the model's "
                                          "vocabulary; its label is a guess")

    def bad(self, bad: BadLine, *, skip: bool) -> None:
        from edgelstm.core.errors import InputError

        if not skip:
            sys.stdout.flush()
            raise InputError(f"{self.name} line {bad.line}: {bad.reason}; the lines before it were classified "
                             "(--skip-bad-lines skips such lines)")
        self.skipped.append(bad)

    def summary(self) -> None:
        for warning in self.unknown_named:
            print(f"edgelstm: warning: {warning}", file=sys.stderr)
        if self.unknown_count > UNKNOWN_WARNINGS:
            print(f"edgelstm: warning: {self.unknown_count} texts in all had no word the model knows",
                  file=sys.stderr)
        if self.skipped:
            first = self.skipped[0]
            print(f"edgelstm: warning: skipped {len(self.skipped)} bad line(s) of {self.name} "
                  f"(first: line {first.line}: {first.reason})", file=sys.stderr)


def _refuse_run_directory(path: str) -> None:
    """A run directory handed to predict gets told what to do with it."""
    from pathlib import Path

    from edgelstm.core.errors import ConfigError
    from edgelstm.core.manifest import MANIFEST
    from edgelstm.core.rundir import MODEL

    folder = Path(path)
    if (folder / MODEL).is_file() and not (folder / MANIFEST).exists():
        raise ConfigError(f"{folder} is a run directory (from `edgelstm train`), not a bundle: "
                          f"export it first with `edgelstm export {folder} --out BUNDLE`, then predict with BUNDLE")


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
        yield from read_records(sys.stdin.buffer, fmt=args.format, name="stdin", text_field=args.text_field)
    elif source is not None:
        with open(source, "rb") as stream:
            yield from read_records(stream, fmt=args.format, name=source, text_field=args.text_field)
    yield from (Record(None, text) for text in args.texts[cut + 1:])


def read_records(stream: BinaryIO, *, fmt: str = "auto", name: str = "input",
                 text_field: str = "text") -> Iterator[Record | BadLine]:
    """Texts of a byte stream, line by line; JSON lines when `fmt` says so or auto-detects it.

    A line that holds no usable text comes out as a BadLine, in its place.
    """
    for number, raw in enumerate(_lines(stream, name), start=1):
        if number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM):]  # an editor's byte-order mark is not part of the first text
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            yield BadLine(number, f"not UTF-8 ({error.reason} at byte {error.start}); "
                                  "convert the file to UTF-8, e.g. iconv -t utf-8")
            continue
        if not line.strip():
            continue
        if fmt == "auto":
            fmt = "jsonl" if _looks_like_json_object(line) else "lines"
        yield _json_record(line, number, text_field) if fmt == "jsonl" else Record(number, line)


def _lines(stream: BinaryIO, name: str) -> Iterator[bytes]:
    from edgelstm.core.errors import InputError

    while raw := stream.readline(MAX_LINE_BYTES + 1):
        if len(raw) > MAX_LINE_BYTES:
            raise InputError(f"{name}: a line is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; "
                             "give one text per line")
        yield raw


def _looks_like_json_object(line: str) -> bool:
    from edgelstm.core.errors import EdgeLSTMError
    from edgelstm.runtime.safeload import parse_json

    if not line.lstrip().startswith("{"):
        return False
    try:
        return isinstance(parse_json(line, "line"), dict)
    except EdgeLSTMError:
        return False


def _json_record(line: str, number: int, text_field: str) -> Record | BadLine:
    from edgelstm.core.errors import InputError
    from edgelstm.runtime.safeload import parse_json

    try:
        value = parse_json(line, "it", error=InputError)
    except InputError as error:  # "it is not JSON (...)", "it holds NaN, which is not JSON"
        reason = str(error).removeprefix("it ").removeprefix("is ")
        return BadLine(number, f"{reason}; --format lines reads plain text")
    if not isinstance(value, dict):
        return BadLine(number, f"a JSON {type(value).__name__}, not an object with a \"{text_field}\" field")
    if text_field not in value:
        keys = ", ".join(map(str, value)) or "none"
        return BadLine(number, f"no \"{text_field}\" field (keys found: {keys}); --text-field KEY names the one "
                               "holding the text")
    if not isinstance(value[text_field], str):
        return BadLine(number, f"field \"{text_field}\" is {type(value[text_field]).__name__}, not a string")
    surrogate = _SURROGATE.search(value[text_field])
    if surrogate:
        return BadLine(number, _surrogate_reason(surrogate))
    return Record(number, value[text_field], value.get("id"))


def _check_unicode(text: str, where: str) -> None:
    """Refuse lone surrogates (a JSON "\\ud800" escape, or argument bytes that are not UTF-8):
    they are not text, and no output could print them."""
    from edgelstm.core.errors import InputError

    match = _SURROGATE.search(text)
    if match:
        raise InputError(f"{where} {_surrogate_reason(match)}")


def _surrogate_reason(match: re.Match) -> str:
    return (f"holds the lone surrogate U+{ord(match.group()):04X} at character {match.start()}, "
            "which is not text: fix its encoding (UTF-8) or its JSON escapes")


def _chunks(records: Iterable[Record | BadLine], size: int) -> Iterator[list[Record | BadLine]]:
    """Up to `size` records; a bad line ends its chunk, so what came before it is written first."""
    chunk: list[Record | BadLine] = []
    for item in records:
        chunk.append(item)
        if isinstance(item, BadLine) or len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write(out: TextIO, records: list[Record], predictions: list, *, as_json: bool) -> None:
    for record, prediction in zip(records, predictions):
        if as_json:
            row = {"label": prediction.label, "label_id": prediction.label_id,
                   "probability": round(prediction.probability, 6), "score": round(prediction.score, 6),
                   "tokens": prediction.tokens, "known_tokens": prediction.known_tokens}
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
