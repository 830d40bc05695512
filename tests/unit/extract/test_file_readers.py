"""Local files in each supported format and option to typed batches, with the rejects and counts. Pure (pyarrow)."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.config.models import Column, SftpLocator
from ingestion.extract.errors import FileTooLargeError, RecordTooLargeError, UnreadableFileError
from ingestion.extract.file_readers import read_file
from ingestion.extract.record_typing import RecordTyper

COLUMNS = [
    Column(name="id", type="integer", nullable=False),
    Column(name="name", type="string"),
    Column(name="amount", type="decimal(8,2)"),
]


def _read(path: Path, **locator: object) -> tuple[list[dict], list, int]:
    chunks = list(read_file(path, path.name, SftpLocator(remote_path="in", **locator), RecordTyper(COLUMNS)))
    rows = [r for c in chunks for r in c.batch.to_pylist()]
    return rows, [r for c in chunks for r in c.rejected], sum(c.seen for c in chunks)


def test_csv_with_its_dialect_options(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("1;'Müller; Jörg';12.50\n2;'O''Neil';\n".encode("latin-1"))
    rows, rejected, seen = _read(
        path, csv={"delimiter": ";", "quote_char": "'", "header": False, "encoding": "latin-1"}
    )
    assert rows == [
        {"id": 1, "name": "Müller; Jörg", "amount": Decimal("12.50")},
        {"id": 2, "name": "O'Neil", "amount": None},
    ]
    assert (rejected, seen) == ([], 2)


def test_gzipped_jsonl_keeps_going_past_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"id": 1, "amount": 2.5}\n{"id": \n\n{"id": "x"}\n{"id": 3, "extra": true}\n'))
    rows, rejected, seen = _read(path, file_format="jsonl")
    assert [r["id"] for r in rows] == [1, 3]
    assert [(r.where, r.reason[:14]) for r in rejected] == [
        ("e.jsonl.gz line 2", "not valid JSON"),
        ("e.jsonl.gz line 4", "field 'id' (in"),
    ]
    assert seen == 4  # the blank line is not a record


def test_parquet_is_cast_to_the_declared_types(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64()), "amount": [1.5, 2.25], "other": ["a", "b"]}), path)
    rows, rejected, seen = _read(path, file_format="parquet")
    assert rows == [
        {"id": 1, "name": None, "amount": Decimal("1.50")},
        {"id": 2, "name": None, "amount": Decimal("2.25")},
    ]
    assert (rejected, seen) == ([], 2)


def test_a_file_that_is_not_gzip_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "x.csv.gz"
    path.write_bytes(b"id,name\n1,a\n")
    with pytest.raises(UnreadableFileError, match=r"x.csv.gz: cannot be read as csv \(gzip\)"):
        _read(path)


# The caps (SftpLocator.max_record_bytes, max_file_bytes, max_json_depth) at their smallest, on small files.
CAP = 64 * 1024


def test_a_csv_row_that_does_not_fit_its_block_fails_naming_the_file_and_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    fits = f"1,{'a' * (CAP - 10)},1.00\n"
    path.write_text("id,name,amount\n" + fits + f"2,{'b' * (2 * CAP + 1)},2.00\n" + fits)
    with pytest.raises(RecordTooLargeError) as failure:
        _read(path, max_record_bytes=CAP)
    assert str(failure.value).startswith(f"wide.csv: has a CSV row longer than the locator's max_record_bytes={CAP}")
    assert "Raise max_record_bytes" in str(failure.value)
    assert "bbbb" not in str(failure.value)
    path.write_text("id,name,amount\n" + fits * 3)  # rows as long as the cap are read
    assert len(_read(path, max_record_bytes=CAP)[0]) == 3


def test_a_json_line_longer_than_the_cap_fails_without_being_held(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    exact = b'{"id": 1, "name": "' + b"a" * (CAP - 21) + b'"}'
    assert len(exact) == CAP
    path.write_bytes(exact + b"\n" + b'{"id": 2, "name": "' + b"b" * CAP + b'"}\n')
    with pytest.raises(
        RecordTooLargeError, match=f"long.jsonl: line 2 is longer than the locator's max_record_bytes={CAP}"
    ):
        _read(path, file_format="jsonl", max_record_bytes=CAP)
    path.write_bytes(exact + b"\n" + exact)  # a line of exactly the cap, with or without its line end, is read
    assert [r["id"] for r in _read(path, file_format="jsonl", max_record_bytes=CAP)[0]] == [1, 1]


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_a_gzip_file_that_unpacks_past_max_file_bytes_fails(tmp_path: Path, file_format: str) -> None:
    path = tmp_path / f"bomb.{file_format}.gz"
    row = b"1,a,1.00\n" if file_format == "csv" else b'{"id": 1}\n'
    path.write_bytes(gzip.compress(row * 2_000_000, compresslevel=9))  # 18-20 MB unpacked from about 60 KB
    assert path.stat().st_size < 100 * 1024
    with pytest.raises(FileTooLargeError) as failure:
        _read(path, file_format=file_format, max_file_bytes=4 * 1024 * 1024, csv={"header": False})
    assert str(failure.value).startswith(f"bomb.{file_format}.gz: went on past the cap, more than the locator's")
    assert "max_file_bytes=4194304 (counted after decompression)" in str(failure.value)


def test_a_gzip_bomb_without_line_ends_stops_at_the_record_cap(tmp_path: Path) -> None:
    path = tmp_path / "zeros.jsonl.gz"
    path.write_bytes(gzip.compress(b"\0" * 50_000_000))  # one 50 MB "line" from 50 KB
    with pytest.raises(RecordTooLargeError, match=r"zeros\.jsonl\.gz: line 1 is longer"):
        _read(path, file_format="jsonl", max_record_bytes=CAP)


def test_a_plain_file_larger_than_max_file_bytes_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("id,name,amount\n" + "1,a,1.00\n" * 1000)
    with pytest.raises(FileTooLargeError, match=r"big.csv: is 9015 bytes, more than the locator's max_file_bytes=1024"):
        _read(path, max_file_bytes=1024)


def test_a_json_line_nested_too_deep_is_quarantined_unparsed_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    bomb = b'{"id": 2, "name": ' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}"
    path.write_bytes(b'{"id": 1}\n' + bomb + b'\n{"id": 3, "name": [[["ok"]]]}\n')
    rows, rejected, seen = _read(path, file_format="jsonl", max_json_depth=4)
    assert [r["id"] for r in rows] == [1]  # id 3 is read, then refused by its column type (a list is not a string)
    assert [(r.where, r.reason) for r in rejected] == [
        ("deep.jsonl line 2", "nests deeper than max_json_depth=4"),
        ("deep.jsonl line 3", "field 'name' (string): a list is not a string"),
    ]
    assert seen == 3


def test_the_caps_have_defaults_that_fit_ordinary_files() -> None:
    locator = SftpLocator(remote_path="in")
    assert (locator.max_record_bytes, locator.max_file_bytes, locator.max_json_depth) == (4 << 20, 8 << 30, 64)


@pytest.mark.parametrize(
    ("content", "locator", "reason"),
    [
        # Not gzip at all: Python's gzip module says so quoting the file's first bytes.
        (b"ca@nary.example,1\n", {"compression": "gzip", "file_format": "jsonl"}, "(gzip): not a gzip file"),
        # Cut short inside the compressed stream.
        (
            # mtime=0: the header's time stamp would otherwise differ between collections (the test id shows the
            # bytes, and pytest-xdist refuses to run when its workers collect different ids).
            gzip.compress(b'{"id": 1, "name": "ca@nary.example"}\n' * 50, mtime=0)[:-12],
            {"compression": "gzip", "file_format": "jsonl"},
            "it ends early (truncated)",
        ),
        # Arrow's own decompressor (CSV): its message describes the stream.
        (b"ca@nary.example,1\n", {"compression": "gzip"}, "(gzip): OSError: zlib inflate failed"),
    ],
    ids=["not-gzip", "truncated-gzip", "not-gzip-csv"],
)
def test_an_unreadable_file_is_named_without_quoting_its_content(
    tmp_path: Path, content: bytes, locator: dict, reason: str
) -> None:
    path = tmp_path / "partner.dat"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError) as failure:
        _read(path, **locator)
    message = str(failure.value)
    assert message.startswith("partner.dat: cannot be read as ")
    assert reason in message
    assert "nary" not in message
    assert "b'" not in message
    assert failure.value.__cause__ is None  # no chained original in the log
    assert failure.value.__suppress_context__


def test_csv_that_is_not_utf8_fails_naming_the_file_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "e_bad.csv"
    path.write_bytes(b"id,name,amount\n1,a\x00b,1.00\n2,\xff\xfe,2.00\n")
    with pytest.raises(UnreadableFileError) as failure:
        _read(path)
    assert str(failure.value) == "e_bad.csv: cannot be read as csv: not utf-8 text at byte 28"
    assert failure.value.__cause__ is None


def test_a_character_split_between_blocks_is_counted_from_the_start_of_the_file(tmp_path: Path) -> None:
    from ingestion.extract.file_readers import _undecodable_at

    path = tmp_path / "split.csv"
    path.write_bytes(b"x" * ((1 << 20) - 1) + "é".encode() + b"\xff")
    assert _undecodable_at(path, "utf-8", gz=False) == f"not utf-8 text at byte {(1 << 20) + 1}"


def test_any_other_arrow_error_fails_naming_the_file_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 ca@nary.example PAR1")
    with pytest.raises(UnreadableFileError) as failure:
        _read(path, file_format="parquet")
    assert str(failure.value).startswith("bad.parquet: cannot be read as parquet: ")
    assert "nary" not in str(failure.value)


@pytest.mark.parametrize("content", [b"", gzip.compress(b"", mtime=0)], ids=["plain", "gzip"])
def test_a_zero_byte_csv_is_read_as_no_rows(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv.gz"
    path.write_bytes(content)
    assert _read(path, compression="gzip" if content else "none") == ([], [], 0)


def _named(path: Path, **locator: object) -> list[list[str]]:
    seen: list[list[str]] = []
    list(read_file(path, path.name, SftpLocator(remote_path="in", **locator), RecordTyper(COLUMNS), seen.append))
    return seen


def test_the_columns_a_file_names_are_shown_before_its_rows(tmp_path: Path) -> None:
    # What the SFTP source checks against the declared columns (drift, a column named twice) before landing a row.
    csv = tmp_path / "o.csv.gz"
    csv.write_bytes(gzip.compress(b"\xef\xbb\xbfid,amount,amount,extra\r\n1,2.00,3.00,x\r\n"))
    assert _named(csv) == [["id", "amount", "amount", "extra"]]
    parquet = tmp_path / "o.parquet"
    pq.write_table(pa.table({"id": [1], "name": ["a"]}), parquet)
    assert _named(parquet, file_format="parquet") == [["id", "name"]]
    # Nothing to show: a CSV without a header, a JSON Lines file, an empty file.
    assert _named(csv, csv={"header": False}) == []
    (tmp_path / "e.jsonl").write_text('{"id": 1}\n')
    assert _named(tmp_path / "e.jsonl", file_format="jsonl") == []
    (tmp_path / "empty.csv").write_bytes(b"")
    assert _named(tmp_path / "empty.csv") == []


def test_a_column_check_that_raises_stops_the_file_before_any_row(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("id,name\n1,a\n")

    def refuse(named: list[str]) -> None:
        raise UnreadableFileError(f"no amount in {named}")

    locator = SftpLocator(remote_path="in")
    with pytest.raises(UnreadableFileError, match=r"no amount in \['id', 'name'\]"):
        list(read_file(path, path.name, locator, RecordTyper(COLUMNS), refuse))
