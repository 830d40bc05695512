"""Which remote files a run loads: name safety, matching, new-or-changed selection. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingestion.extract.sftp_files import RemoteFile, name_matches, new_files, unsafe_name_reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("..", "is empty, . or .."),
        ("a/b.csv", "contains a path separator"),
        ("..\\x.csv", "contains a path separator"),
        ("a\nb.csv", "control or invisible formatting character"),
        ("a\x00b.csv", "control or invisible formatting character"),
        ("a\u202eb.csv", "control or invisible formatting character"),  # right-to-left override
        ("x" * 256, "longer than 255 bytes"),
    ],
)
def test_unsafe_names_are_refused_with_a_reason(name: str, reason: str) -> None:
    found = unsafe_name_reason(name)
    assert found is not None
    assert reason in found


@pytest.mark.parametrize("name", ["orders_2026-11-01.csv", "orders ü 'q' $(x);.csv", "a..b.csv", "-rf.csv"])
def test_odd_but_harmless_names_are_allowed(name: str) -> None:
    assert unsafe_name_reason(name) is None


def test_glob_and_regex_patterns() -> None:
    assert name_matches("orders_1.csv.gz", "orders_*.csv.gz")
    assert not name_matches("Orders_1.csv.gz", "orders_*.csv.gz")  # case-sensitive, like the server
    assert name_matches("orders_2026-11-01.csv", r"re:orders_\d{4}-\d{2}-\d{2}\.csv")
    assert not name_matches("orders_2026-11-01.csv.bak", r"re:orders_\d{4}-\d{2}-\d{2}\.csv")


def _file(name: str, minute: int, size: int = 10) -> RemoteFile:
    return RemoteFile(name, f"in/{name}", size, datetime(2026, 11, 1, 0, minute, tzinfo=UTC))


def test_new_or_re_uploaded_files_only() -> None:
    at_5 = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)
    processed = {"a.csv": (at_5, 10), "b.csv": (at_5, 10)}
    files = [_file("a.csv", 5), _file("b.csv", 9), _file("c.csv", 1)]
    assert [f.name for f in new_files(files, processed)] == ["b.csv", "c.csv"]
    assert [f.name for f in new_files(files, processed, full_refresh=True)] == ["a.csv", "b.csv", "c.csv"]


def test_a_rewrite_with_the_same_mtime_but_another_size_is_new() -> None:
    at_5 = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)
    processed = {"same.csv": (at_5, 10), "grown.csv": (at_5, 10), "older.csv": (at_5, 10)}
    files = [_file("same.csv", 5), _file("grown.csv", 5, size=42), _file("older.csv", 4, size=42)]
    assert [f.name for f in new_files(files, processed)] == ["grown.csv"]
