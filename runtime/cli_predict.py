"""`edgelstm predict BUNDLE TEXT...`: classify raw texts from the command line, stdin or a file.

Input streams through in chunks of --batch-size texts: read a chunk, classify it,
write one line per text, so memory stays bounded for a file of any length. A
file (or stdin) holds one text per line, JSON lines, CSV with a header, or (a file, with
pyarrow) Parquet; the text is in "text" (another with --text-field), an "id" is copied to
the output (edgelstm.runtime.inputs reads them all, for every engine). Blank lines are
skipped, and JSON output carries each text's line (Parquet: row) number so results join
back to their input. A bad record (not JSON, no text field, not UTF-8, a CSV row with too
few fields) stops the stream after the results of the records before it, naming its line;
--skip-bad-lines skips and counts such records.

Output per text: label, probability (how sure the model is of that label, >= 0.5) and,
with --json, score (probability of the second label, e.g. pos, for ranking and your own
threshold), tokens and known_tokens (words read and how many the model knows; a text
with none known gets a warning on stderr: its label is a guess). A bundle of C >= 3 labels
gives the most probable label and its probability (at least 1/C); its JSON adds
"probabilities", every label's probability by name, and its "score" is the label's probability.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO, TextIO

from edgelstm.runtime import cli_options, inputs
from edgelstm.runtime.inputs import BadLine, Record, read_records

if TYPE_CHECKING:  # the pool (multiprocessing, sockets, pickle) is imported only when --workers > 1
    from edgelstm.runtime import pool

DEFAULT_BATCH = 256
PREVIEW_CHARS = 60
ENGINES = ("local", "ray")

EXAMPLES = """output: LABEL <tab> PROBABILITY <tab> TEXT, one line per text. PROBABILITY is how sure
the model is of LABEL (the chosen label's probability, so at least 0.5); --json adds
"score", the probability of the second label (e.g. pos) whatever the label, for ranking
or a threshold of your own, and "tokens"/"known_tokens": words read and how many the
model knows (none known: a warning on stderr, the label is a guess). With C >= 3 labels,
LABEL is the most probable one, and --json adds "probabilities": {label: probability} for
every label ("score" is then LABEL's probability).

examples:
  edgelstm predict out/demo/bundle "a quietly wonderful film" "two hours I will not get back"
  edgelstm predict out/demo/bundle --json "great film"
  edgelstm predict out/demo/bundle --input reviews.txt --json > predictions.jsonl
  edgelstm predict out/demo/bundle --input reviews.jsonl --text-field body --skip-bad-lines
  edgelstm predict out/demo/bundle --input reviews.csv --text-field review --json --workers 2
  cat reviews.jsonl | edgelstm predict out/demo/bundle - --backend numpy
"""


# Texts without a known word are named on stderr up to this many; then only counted.
UNKNOWN_WARNINGS = 5


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("bundle", help="bundle folder written by `edgelstm export`")
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify; '-' reads them from stdin")
    parser.add_argument("--input", metavar="FILE",
                        help="read texts from FILE ('-' for stdin): one per line, JSON lines, CSV or Parquet (--format)")
    parser.add_argument("--format", choices=inputs.FORMATS, default="auto",
                        help="input format of FILE/stdin; auto: csv or parquet by the file's extension (.csv, "
                             ".parquet/.pq), else JSON lines if the first line is a JSON object, else lines")
    parser.add_argument("--text-field", default="text", metavar="KEY",
                        help="JSON lines, CSV, Parquet: the key or column holding the text (default: text)")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="skip records that are not JSON or CSV, lack the text field or are not UTF-8, and "
                             "count them")
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
    args.format = _resolved_format(args, source)
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    _refuse_run_directory(args.bundle)
    if args.workers != 1:  # one process never imports the pool: its start-up is what a user waits for
        from edgelstm.runtime import pool

        pool.check_workers(args.workers)
    report = _Report(args, source)
    if args.engine == "ray":
        return _emit(_scored_on_ray(args, source), args, report)
    if args.workers > 1:
        return _emit(_scored_on_pool(args, source), args, report)
    with Classifier.load(args.bundle, variant=args.variant, backend=args.backend, threads=args.threads,
                         trusted_keys=args.key) as classifier:
        if args.verbose:
            print(f"edgelstm: {classifier.variant} on {classifier.backend_name}", file=sys.stderr)
        # Someone typing lines gets each answer at once rather than after a full chunk.
        batch = 1 if source == STDIN and _interactive(sys.stdin.buffer) else args.batch_size
        return _emit(_scored_here(classifier, _chunks(_records(args, source), batch)), args, report)


# Every engine yields its results as batches in input order: (Record, Prediction) pairs, then
# at most one (BadLine, None), which ends its batch. _emit writes them the same way for all.
Scored = list[tuple[Record | BadLine, object]]


def _emit(batches: Iterable[Scored], args: argparse.Namespace, report: _Report) -> int:
    """Write each batch's results, then stop at (or skip) its bad record: the same for every engine."""
    try:
        for batch in batches:
            records = [item for item, _ in batch if isinstance(item, Record)]
            predictions = [prediction for item, prediction in batch if isinstance(item, Record)]
            _write(sys.stdout, records, predictions, as_json=args.json, unit=report.unit, labels=report.labels)
            report.unknown(records, predictions)
            for bad in (item for item, _ in batch if isinstance(item, BadLine)):
                report.bad(bad, skip=args.skip_bad_lines)
    except BrokenPipeError:
        _silence_stdout()  # `| head` closed the pipe: stop quietly, as Unix tools do
    report.summary()
    return 0


def _scored_here(classifier: object, chunks: Iterable[list[Record | BadLine]]) -> Iterator[Scored]:
    for chunk in chunks:
        records = [item for item in chunk if isinstance(item, Record)]
        predictions = classifier.predict([record.text for record in records])  # type: ignore[attr-defined]
        yield _paired(chunk, predictions)


def _paired(chunk: list[Record | BadLine], predictions: list) -> Scored:
    scored = iter(predictions)
    return [(item, next(scored) if isinstance(item, Record) else None) for item in chunk]


def _scored_on_pool(args: argparse.Namespace, source: str | None) -> Iterator[Scored]:
    """The same chunks as one process, scored on --workers processes, in input order.

    A chunk's bad record travels with it (a chunk may hold nothing else), so it is reported
    only once everything before it has been written, as in one process.
    """
    from edgelstm.runtime import pool

    spec = pool.PoolSpec(str(args.bundle), variant=args.variant, backend=args.backend, threads=args.threads,
                         trusted_keys=tuple(args.key) if args.key else None)
    announce = (lambda loaded: print(f"edgelstm: {loaded}, {args.workers} workers", file=sys.stderr)) if args.verbose else None
    chunks = _pool_chunks(_chunks(_records(args, source), args.batch_size))
    for chunk, predictions in pool.score_chunks(spec, chunks, args.workers, on_ready=announce):
        yield _paired(chunk.payload, predictions)


def _scored_on_ray(args: argparse.Namespace, source: str | None) -> Iterator[Scored]:
    """A Ray task reads the file (through edgelstm.runtime.inputs, as here) and Ray actors score it."""
    from edgelstm.core.errors import ConfigError
    from edgelstm.runtime import ray_engine

    if source in (None, STDIN) or args.texts:
        raise ConfigError("--engine ray reads --input FILE (a Ray task reads the file itself): "
                          "give the texts as a file, or use the local engine")
    yield from ray_engine.score_file(source, bundle=str(args.bundle), variant=args.variant, backend=args.backend,
                                     fmt=args.format, workers=args.workers, batch_size=args.batch_size,
                                     trusted_keys=tuple(args.key) if args.key else None, text_field=args.text_field)


def _pool_chunks(chunks: Iterable[list[Record | BadLine]]) -> Iterator[pool.Chunk]:
    from edgelstm.runtime import pool

    row = 1
    for chunk in chunks:
        records = [item for item in chunk if isinstance(item, Record)]
        known = records and None not in (records[0].line, records[-1].line)
        lines = (records[0].line, records[-1].line) if known else (None, None)
        yield pool.Chunk([record.text for record in records], row, lines, chunk)
        row += len(records)


class _Report:
    """Warnings on stderr: texts with no known word, skipped bad lines."""

    def __init__(self, args: argparse.Namespace, source: str | None) -> None:
        self.name = "stdin" if source == STDIN else source or "arguments"
        self.unit = inputs.position_name(args.format)  # "line", or "row" for Parquet
        self.unknown_count = 0
        self.unknown_named: list[str] = []
        self.skipped: list[BadLine] = []
        self.bundle = args.bundle
        self._labels: list[str] | None = None

    def labels(self) -> list[str]:
        """The bundle's label names, read from its manifest the first time they are needed (every
        engine, whichever process scored; the classifier that loaded it checked it already)."""
        if self._labels is None:
            from pathlib import Path

            from edgelstm.runtime.bundle import read_manifest

            self._labels = list(read_manifest(Path(self.bundle)).task.labels)
        return self._labels

    def unknown(self, records: list[Record], predictions: list) -> None:
        """Noted now, said at the end: an error stopping the stream stays its one stderr line."""
        for record, prediction in zip(records, predictions):
            if prediction.known_tokens:
                continue
            self.unknown_count += 1
            if self.unknown_count <= UNKNOWN_WARNINGS:
                where = f"{self.unit} {record.line}" if record.line is not None else repr(_preview(record.text))
                self.unknown_named.append(f"{where}: none of its {prediction.tokens} words is in the model's "
                                          "vocabulary; its label is a guess")

    def bad(self, bad: BadLine, *, skip: bool) -> None:
        from edgelstm.core.errors import InputError

        if not skip:
            sys.stdout.flush()
            raise InputError(f"{self.name} {self.unit} {bad.line}: {bad.reason}; the {self.unit}s before it were "
                             f"classified (--skip-bad-lines skips such {self.unit}s)")
        self.skipped.append(bad)

    def summary(self) -> None:
        for warning in self.unknown_named:
            print(f"edgelstm: warning: {warning}", file=sys.stderr)
        if self.unknown_count > UNKNOWN_WARNINGS:
            print(f"edgelstm: warning: {self.unknown_count} texts in all had no word the model knows",
                  file=sys.stderr)
        if self.skipped:
            first = self.skipped[0]
            print(f"edgelstm: warning: skipped {len(self.skipped)} bad {self.unit}(s) of {self.name} "
                  f"(first: {self.unit} {first.line}: {first.reason})", file=sys.stderr)


def _refuse_run_directory(path: str) -> None:
    """A run directory handed to predict gets told what to do with it."""
    from pathlib import Path

    from edgelstm.core.errors import ConfigError
    from edgelstm.core.manifest import MANIFEST

    folder = Path(path)
    if (folder / MANIFEST).exists():
        return  # a bundle: the run directory's module (and its staging imports) is not needed
    from edgelstm.core.rundir import MODEL

    if (folder / MODEL).is_file():
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
        raise ConfigError(f"--input {args.input} is a folder: give a file of texts (one per line, JSON lines, "
                          "CSV or Parquet)")
    return args.input


def _resolved_format(args: argparse.Namespace, source: str | None) -> str:
    """--format, with auto resolved by the file's extension where it names CSV or Parquet."""
    from edgelstm.core.errors import ConfigError

    fmt = inputs.resolve_format(args.format, source if source not in (None, STDIN) else None)
    if fmt == "parquet" and source == STDIN:
        raise ConfigError("--format parquet reads a file (--input FILE): Parquet cannot be read from stdin")
    return fmt


def _interactive(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _records(args: argparse.Namespace, source: str | None) -> Iterator[Record]:
    """Texts in order: arguments before '-', the stream, arguments after it."""
    cut = args.texts.index(STDIN) if STDIN in args.texts else len(args.texts)
    for position, text in enumerate(args.texts):
        inputs.check_unicode(text, f"argument {position + 1}")
    yield from (Record(None, text) for text in args.texts[:cut])
    if source == STDIN:
        yield from read_records(sys.stdin.buffer, fmt=args.format, name="stdin", text_field=args.text_field)
    elif source is not None:
        with open(source, "rb") as stream:
            yield from read_records(stream, fmt=args.format, name=source, text_field=args.text_field)
    yield from (Record(None, text) for text in args.texts[cut + 1:])


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


def _write(out: TextIO, records: list[Record], predictions: list, *, as_json: bool, unit: str = "line",
           labels: Callable[[], list[str]] = list) -> None:
    """One line per text; `labels()` gives the bundle's label names, asked only for a C-class bundle's JSON."""
    for record, prediction in zip(records, predictions):
        if as_json:
            row = {"label": prediction.label, "label_id": prediction.label_id,
                   "probability": round(prediction.probability, 6), "score": round(prediction.score, 6),
                   "tokens": prediction.tokens, "known_tokens": prediction.known_tokens}
            if len(prediction.probabilities) > 2:  # two labels: score says it all, as it always did
                row["probabilities"] = {name: round(p, 6) for name, p in zip(labels(), prediction.probabilities)}
            if record.line is not None:
                row[unit] = record.line
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
