"""edgelstm.runtime.inputs: the one reader of predict's input formats (lines, JSON lines, CSV, Parquet).

Every engine reads through it, so these cases fix what a file means for all of them: the
texts, their line (Parquet: row) numbers, and the one-line reason a bad record is refused.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from edgelstm.core.errors import ConfigError, InputError
from edgelstm.runtime.inputs import BadLine, Record, read_records, resolve_format


def write_parquet(path: Path, columns: dict[str, list]) -> Path:
    pyarrow = pytest.importorskip("pyarrow", reason="Parquet needs pyarrow: pip install 'edgelstm[parquet]' "
                                  "(make test-ray installs it)")
    parquet = pytest.importorskip("pyarrow.parquet")
    parquet.write_table(pyarrow.table(columns), path)
    return path


def read(data: bytes, fmt: str, **options: str) -> list[Record | BadLine]:
    return list(read_records(io.BytesIO(data), fmt=fmt, name="in", **options))


def test_csv_records_keep_quoted_commas_and_line_breaks_and_name_their_first_line() -> None:
    data = b'id,text\n1,"good, really good"\n2,"two\nlines"\n\n3,plain\n'
    assert read(data, "csv") == [Record(2, "good, really good", "1"), Record(3, "two\nlines", "2"),
                                 Record(6, "plain", "3")]


def test_a_spreadsheets_byte_order_mark_before_the_csv_header_is_dropped() -> None:
    assert read(b"\xef\xbb\xbftext\nfine\n", "csv") == [Record(2, "fine")]


def test_csv_text_column_is_chosen_by_text_field_and_an_id_column_is_optional() -> None:
    assert read(b"body,stars\nfun,5\n", "csv", text_field="body") == [Record(2, "fun")]


@pytest.mark.parametrize(("row", "reason"), [
    (b"only-one-field", "has 1 field(s), the header has 2"),
    (b'1,"stray "quote" inside"', "not CSV (',' expected after '\"')"),
    (b"1,caf\xe9", "not UTF-8 (invalid continuation byte at byte 5)"),
    (b"1,a,b", "has 3 field(s), the header has 2"),
], ids=["too-few-fields", "stray-quote", "not-utf8", "too-many-fields"])
def test_a_bad_csv_row_is_a_bad_line_in_its_place(row: bytes, reason: str) -> None:
    records = read(b"id,text\n1,before\n" + row + b"\n3,after\n", "csv")
    assert records[0] == Record(2, "before", "1") and records[-1] == Record(4, "after", "3")
    assert len(records) == 3 and isinstance(records[1], BadLine) and records[1].line == 3
    assert records[1].reason.startswith(reason)


def test_a_csv_header_without_the_text_column_is_refused_naming_the_columns() -> None:
    with pytest.raises(InputError, match='in line 1: the CSV header has no "text" column \\(columns: id, body\\); '
                                         "--text-field NAME"):
        read(b"id,body\n1,x\n", "csv")


def test_an_unterminated_quote_at_the_end_is_a_bad_line_not_a_silent_text() -> None:
    records = read(b'text\nfine\n"never closed\nmore\n', "csv")
    assert records[0] == Record(2, "fine") and records[1] == BadLine(3, records[1].reason)
    assert "unexpected end of data" in records[1].reason


def test_auto_reads_csv_and_parquet_by_extension_and_leaves_the_rest_to_the_first_line() -> None:
    assert [resolve_format("auto", name) for name in ("a.CSV", "b.parquet", "c.pq", "d.jsonl", "e.txt")] == \
        ["csv", "parquet", "parquet", "auto", "auto"]
    assert resolve_format("lines", "a.csv") == "lines"  # an explicit --format wins
    with pytest.raises(ConfigError, match="accepted are auto, lines, jsonl, csv, parquet"):
        resolve_format("xml", None)


@pytest.mark.parquet
def test_parquet_rows_numbered_with_null_texts_as_bad_rows(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "in.parquet", {"id": [7, 8, 9], "text": ["good", None, "bad"]})
    with path.open("rb") as stream:
        records = list(read_records(stream, fmt="parquet", name="in"))
    assert records == [Record(1, "good", 7), BadLine(2, 'column "text" is null, not a string'), Record(3, "bad", 9)]


@pytest.mark.parquet
def test_parquet_without_a_string_text_column_is_refused_saying_what_it_holds(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "in.parquet", {"text": [1, 2]})
    with path.open("rb") as stream, pytest.raises(InputError, match='column "text" holds int64, not strings'):
        list(read_records(stream, fmt="parquet", name="in"))
    with pytest.raises(InputError, match="in is not a Parquet file"):
        read(b"id,text\n1,x\n", "parquet")


def test_parquet_without_pyarrow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as where pyarrow is not installed: import fails
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigError, match=r"--format parquet needs pyarrow: pip install 'edgelstm\[parquet\]'"):
        read(b"PAR1", "parquet")


def test_csv_reads_from_a_stream_as_well_as_a_file() -> None:
    assert read(b"text,id\r\nwindows line ends,7\r\n", "csv") == [Record(2, "windows line ends", "7")]
