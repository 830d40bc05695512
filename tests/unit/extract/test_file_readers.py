"""Local files in each supported format and option to typed batches, with the rejects and counts. Pure (pyarrow)."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.config.models import Column, SftpLocator
from ingestion.extract.errors import UnreadableFileError
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
