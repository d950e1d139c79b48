"""The input formats of `edgelstm predict --input FILE`: one reader for every engine.

One process, the process pool (`--workers N`) and Ray (`--engine ray`) all read through
`read_records`, so a file means the same texts, the same line numbers and the same bad-input
messages whichever engine scores it. Formats:

- lines: one text per line;
- jsonl: one JSON object per line, the text in "text" (--text-field), an "id" copied out;
- csv: a header row, then one record per row (RFC 4180 quoting, so a quoted field may span
  lines), the text in column "text" (--text-field), an "id" column copied out;
- parquet: a string column "text" (--text-field) and an optional "id" column; needs
  pyarrow (pip install 'edgelstm[parquet]').

`auto` picks csv or parquet by the file's extension, else jsonl when the first non-blank line
is a JSON object, else lines. Positions are input lines (1-based; a CSV record's is the line
it starts on), or rows for Parquet, which has no lines. A record that holds no usable text
comes out as a BadLine in its place; the caller stops there or skips it (--skip-bad-lines).
Blank lines are skipped. A UTF-8 byte-order mark before the first line is dropped (editors
and spreadsheets write one). A text is refused when it is not UTF-8 or holds a lone
surrogate: it is not text, and no output could print it.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from edgelstm.core.errors import ConfigError, EdgeLSTMError, InputError

FORMATS = ("auto", "lines", "jsonl", "csv", "parquet")
# File extensions `auto` trusts; other files are told apart by their first line.
EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
# One line (or CSV field) is read whole; a longer one is refused rather than exhausting memory.
MAX_LINE_BYTES = 64 * 1024 * 1024
# Rows a Parquet file is read in at a time (bounded memory for a file of any size).
PARQUET_BATCH_ROWS = 4096
ID_FIELD = "id"
UTF8_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")
# What `python -m csv` and spreadsheets write; a row's fields are joined back for the message.
CSV_DIALECT = "excel"


class Record(NamedTuple):
    line: int | None  # 1-based input line (Parquet: row); None for texts given as arguments
    text: str
    id: object = None


class BadLine(NamedTuple):
    """A record that holds no usable text; the stream goes on only with --skip-bad-lines."""
    line: int
    reason: str


def position_name(fmt: str) -> str:
    """What a Record's `line` counts in this format: "row" for Parquet, else "line"."""
    return "row" if fmt == "parquet" else "line"


def resolve_format(fmt: str, path: str | None) -> str:
    """`fmt`, or for auto the format a file's extension names; "auto" stays for the first line to decide."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} is not known: accepted are {', '.join(FORMATS)}")
    if fmt == "auto" and path is not None:
        return EXTENSIONS.get(os.path.splitext(path)[1].lower(), "auto")
    return fmt


def read_records(stream: BinaryIO, *, fmt: str = "auto", name: str = "input",
                 text_field: str = "text") -> Iterator[Record | BadLine]:
    """The records of a byte stream in input order, in the format `fmt` (resolve_format's)."""
    if fmt == "csv":
        yield from _csv_records(stream, name, text_field)
    elif fmt == "parquet":
        yield from _parquet_records(stream, name, text_field)
    else:
        yield from _line_records(stream, fmt, name, text_field)


# --- lines and JSON lines -----------------------------------------------------------------------

def _line_records(stream: BinaryIO, fmt: str, name: str, text_field: str) -> Iterator[Record | BadLine]:
    for number, raw in enumerate(_lines(stream, name), start=1):
        line = _decode(raw, number)
        if isinstance(line, BadLine):
            yield line
            continue
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if fmt == "auto":
            fmt = "jsonl" if looks_like_json_object(line) else "lines"
        yield _json_record(line, number, text_field) if fmt == "jsonl" else Record(number, line)


def _lines(stream: BinaryIO, name: str) -> Iterator[bytes]:
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        if len(raw) > MAX_LINE_BYTES:
            raise InputError(f"{name}: a line is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; "
                             "give one text per line")
        yield raw


def _decode(raw: bytes, number: int) -> str | BadLine:
    if number == 1 and raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM):]  # an editor's byte-order mark is not part of the first text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return BadLine(number, _not_utf8(error))


def _not_utf8(error: UnicodeDecodeError) -> str:
    return f"not UTF-8 ({error.reason} at byte {error.start}); convert the file to UTF-8, e.g. iconv -t utf-8"


def looks_like_json_object(line: str) -> bool:
    from edgelstm.runtime.safeload import parse_json

    if not line.lstrip().startswith("{"):
        return False
    try:
        return isinstance(parse_json(line, "line"), dict)
    except EdgeLSTMError:
        return False


def _json_record(line: str, number: int, text_field: str) -> Record | BadLine:
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
    return _text_record(number, value[text_field], value.get(ID_FIELD), f"field \"{text_field}\"")


def _text_record(number: int, text: object, identifier: object, what: str) -> Record | BadLine:
    if not isinstance(text, str):
        return BadLine(number, f"{what} is {type(text).__name__}, not a string")
    surrogate = _SURROGATE.search(text)
    if surrogate:
        return BadLine(number, surrogate_reason(surrogate))
    return Record(number, text, identifier)


def check_unicode(text: str, where: str) -> None:
    """Refuse lone surrogates (a JSON "\\ud800" escape, or argument bytes that are not UTF-8)."""
    match = _SURROGATE.search(text)
    if match:
        raise InputError(f"{where} {surrogate_reason(match)}")


def surrogate_reason(match: re.Match) -> str:
    return (f"holds the lone surrogate U+{ord(match.group()):04X} at character {match.start()}, "
            "which is not text: fix its encoding (UTF-8) or its JSON escapes")


# --- CSV ----------------------------------------------------------------------------------------

class _CsvLines:
    """The stream's lines decoded for csv.reader, remembering where each record starts and which
    lines were not UTF-8 (decoded with surrogateescape, so the record can be named and refused)."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.lines = enumerate(_lines(stream, name), start=1)
        self.number = 0
        self.not_utf8: dict[int, str] = {}

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        self.number, raw = next(self.lines)
        line = _decode(raw, self.number)
        if isinstance(line, BadLine):
            self.not_utf8[self.number] = line.reason
            line = raw.decode("utf-8", errors="surrogateescape")
        return line

    def bad_line_in(self, first: int) -> BadLine | None:
        """The first line from `first` on that was not UTF-8, as the record's BadLine."""
        bad = [number for number in self.not_utf8 if first <= number <= self.number]
        return BadLine(first, self.not_utf8[min(bad)]) if bad else None


def _csv_records(stream: BinaryIO, name: str, text_field: str) -> Iterator[Record | BadLine]:
    csv.field_size_limit(MAX_LINE_BYTES)  # the default (128 KiB) is shorter than some reviews
    lines = _CsvLines(stream, name)
    rows = csv.reader(lines, CSV_DIALECT, strict=True)  # a stray quote is an error, not part of a text
    header = _csv_header(rows, lines, name, text_field)
    if header is None:
        return
    text_at, id_at = header.index(text_field), header.index(ID_FIELD) if ID_FIELD in header else None
    while True:
        first = lines.number + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            yield BadLine(first, f"not CSV ({error}); a field holding a comma, a quote or a line break is quoted as "
                                 "\"...\", with a quote inside it doubled (\"\")")
            continue
        if not row:
            continue  # a blank line
        if bad := lines.bad_line_in(first):
            yield bad
        elif len(row) != len(header):
            yield BadLine(first, f"has {len(row)} field(s), the header has {len(header)}; quote a field "
                                 "holding a comma as \"...\"")
        else:
            yield _text_record(first, row[text_at], row[id_at] if id_at is not None else None,
                               f"column \"{text_field}\"")


def _csv_header(rows: Iterator[list[str]], lines: _CsvLines, name: str, text_field: str) -> list[str] | None:
    """The header row (None for an empty file), or an InputError when it names no text column."""
    try:
        header = next((row for row in rows if row), None)
    except csv.Error as error:
        raise InputError(f"{name} line {lines.number}: the CSV header is not CSV ({error})") from None
    if header is None:
        return None
    if bad := lines.bad_line_in(1):
        raise InputError(f"{name} line {bad.line}: the CSV header is {bad.reason}")
    if text_field not in header:
        raise InputError(f"{name} line {lines.number}: the CSV header has no \"{text_field}\" column (columns: "
                         f"{', '.join(header)}); --text-field NAME names the one holding the text")
    return header


# --- Parquet ------------------------------------------------------------------------------------

def _parquet_records(stream: BinaryIO, name: str, text_field: str) -> Iterator[Record | BadLine]:
    parquet = import_pyarrow_parquet()
    import pyarrow

    try:
        file = parquet.ParquetFile(stream)
    except (pyarrow.ArrowException, OSError) as error:
        raise InputError(f"{name} is not a Parquet file ({error}); --format names the file's format") from None
    columns = _parquet_columns(file.schema_arrow, name, text_field)
    row = 0
    for texts, ids in _parquet_batches(file, columns, name, pyarrow):
        for text, identifier in zip(texts, ids):
            row += 1
            if text is None:
                yield BadLine(row, f"column \"{text_field}\" is null, not a string")
            else:
                yield _text_record(row, text, _json_id(identifier), f"column \"{text_field}\"")


def _parquet_batches(file: object, columns: list[str], name: str, pyarrow: object) -> Iterator[tuple[list, list]]:
    batches = file.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns)  # type: ignore[attr-defined]
    while True:
        try:
            batch = next(batches)
            texts = batch.column(0).to_pylist()
        except StopIteration:
            return
        except (pyarrow.ArrowException, UnicodeDecodeError, OSError) as error:  # type: ignore[attr-defined]
            raise InputError(f"{name}: a Parquet row group cannot be read ({error})") from None
        yield texts, batch.column(1).to_pylist() if len(columns) > 1 else [None] * len(texts)


def _json_id(value: object) -> object:
    """An id as JSON output can carry it: numbers, strings and booleans as they are, else its text."""
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def _parquet_columns(schema: object, name: str, text_field: str) -> list[str]:
    import pyarrow

    names = list(schema.names)  # type: ignore[attr-defined]
    if text_field not in names:
        raise InputError(f"{name} has no \"{text_field}\" column (columns: {', '.join(names)}); "
                         "--text-field NAME names the one holding the text")
    kind = schema.field(text_field).type  # type: ignore[attr-defined]
    if not (pyarrow.types.is_string(kind) or pyarrow.types.is_large_string(kind)):
        raise InputError(f"{name} column \"{text_field}\" holds {kind}, not strings: --text-field NAME names "
                         "the column holding the text")
    return [text_field] + ([ID_FIELD] if ID_FIELD in names and ID_FIELD != text_field else [])


def import_pyarrow_parquet() -> object:
    try:
        import pyarrow.parquet
    except ImportError:
        raise ConfigError("--format parquet needs pyarrow: pip install 'edgelstm[parquet]'") from None
    return pyarrow.parquet
