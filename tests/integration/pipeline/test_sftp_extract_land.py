"""SFTP entities through the real operators against the stack's OpenSSH server, lake, Kafka and control DB.

Each test drops files into a folder of its own on the server (through SFTP, as a partner would) and reads them with
a source of its own, so processed-file lists and watermarks never mix.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.sftp.hooks.sftp import SFTPHook
from airflow.sdk.exceptions import AirflowFailException

from ingestion.land.lake import Lake
from tests.integration.support import (
    PEAK_RSS_MB_SNIPPET,
    REPO,
    landed_table,
    read_committed,
    run_stages,
    source_config,
    write_configs,
)

COLUMNS: list[dict[str, Any]] = [
    {"name": "partner_order_id", "type": "string", "nullable": False},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "email", "type": "string", "pii": True, "pii_strategy": "hash"},
    {"name": "ordered_at", "type": "timestamp", "nullable": False},
]
HEADER = "partner_order_id,amount,email,ordered_at\n"
END = datetime(2026, 11, 22, tzinfo=UTC)


def csv_rows(first: int, count: int) -> str:
    return "".join(f"PO-{i},{i}.25,p{i}@partner.example,2026-11-02T10:00:00Z\n" for i in range(first, first + count))


@pytest.fixture
def folder() -> Iterator[dict[str, Any]]:
    """A remote folder of the test's own (and an archive beside it), with an open SFTP client."""
    name = f"s{uuid.uuid4().hex[:8]}"
    hook = SFTPHook(ssh_conn_id="partner_sftp")
    with hook.get_managed_conn() as client:
        for path in (f"inbound/{name}", f"inbound/{name}_archive"):
            client.mkdir(path)
        yield {"name": name, "path": f"inbound/{name}", "client": client}


def put(folder: dict[str, Any], file_name: str, data: bytes, mtime: float | None = None) -> None:
    path = f"{folder['path']}/{file_name}"
    folder["client"].putfo(io.BytesIO(data), path)
    if mtime is not None:
        folder["client"].utime(path, (mtime, mtime))


def sftp_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any], **locator: Any) -> str:
    name = folder["name"]
    entity = {
        "name": "orders",
        "locator": {
            "kind": "sftp",
            "remote_path": folder["path"],
            "file_pattern": "orders_*.csv*",
            "file_format": "csv",
            "settle_seconds": 1,
            **locator,
        },
        "primary_key": ["partner_order_id"],
        "columns": COLUMNS,
        "load": {"mode": "incremental"},
    }
    config = source_config(name, "sftp", "partner_sftp", [entity], kafka={"publish_timeout_seconds": 10})
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
    return name


def extract(name: str, run_id: str = "scheduled__2026-11-22") -> dict[str, Any]:
    return run_stages(name, "orders", run_id, END, stages=("extract_land",))["extract_land"]


def day(n: int) -> str:
    return f"scheduled__2026-11-{n:02d}"


def end_of(n: int) -> datetime:
    """The data interval end of run day(n): runs of different days name their files differently."""
    return datetime(2026, 11, n + 1, tzinfo=UTC)


def test_new_files_only_then_a_new_and_a_re_uploaded_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = sftp_source(tmp_path, monkeypatch, folder)
    old = time.time() - 3600
    put(folder, "orders_1.csv", (HEADER + csv_rows(1, 3)).encode(), old)
    put(folder, "orders_2.csv.gz", gzip.compress((HEADER + csv_rows(10, 2)).encode()), old)
    put(folder, "customers_1.csv", b"not,an,orders,file\n", old)  # does not match the pattern

    first = run_stages(name, "orders", day(20), end_of(20))
    land = first["extract_land"]
    assert sorted(f["name"] for f in land["files_loaded"]) == ["orders_1.csv", "orders_2.csv.gz"]
    table = landed_table(land)
    assert sorted(table.column("partner_order_id").to_pylist()) == ["PO-1", "PO-10", "PO-11", "PO-2", "PO-3"]
    assert sorted(set(table.column("_source_file").to_pylist())) == ["orders_1.csv", "orders_2.csv.gz"]
    assert table.column("amount").to_pylist()[0] == Decimal("1.25")
    assert "@" not in "".join(table.column("email").to_pylist())  # hashed
    assert first["commit"]["rows_published"] == 5

    # Nothing new: the next run lands nothing.
    second = run_stages(name, "orders", day(21), end_of(21))
    assert second["extract_land"]["files_loaded"] == []
    assert second["extract_land"]["rows"] == 0

    # A new file, and orders_1.csv uploaded again with changes (a newer mtime); orders_2 untouched.
    put(folder, "orders_3.csv", (HEADER + csv_rows(20, 1)).encode())
    put(folder, "orders_1.csv", (HEADER + csv_rows(1, 4)).encode())
    third = run_stages(name, "orders", day(22), end_of(22))
    assert sorted(f["name"] for f in third["extract_land"]["files_loaded"]) == ["orders_1.csv", "orders_3.csv"]
    assert sorted(landed_table(third["extract_land"]).column("partner_order_id").to_pylist()) == [
        "PO-1",
        "PO-2",
        "PO-20",
        "PO-3",
        "PO-4",
    ]
    messages = read_committed(f"ingest.{name}.orders")
    assert len(messages) == 5 + 5  # run 1 and run 3, each row once


NOTE_COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "type": "string", "nullable": False},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "note", "type": "string"},
]


def notes_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any], pattern: str) -> str:
    """A source of its own with one `notes` entity (id, amount, note) reading `pattern`, settle_seconds 0."""
    entity = {
        "name": "notes",
        "locator": {
            "kind": "sftp",
            "remote_path": folder["path"],
            "file_pattern": pattern,
            "file_format": "csv",
            "settle_seconds": 0,
        },
        "primary_key": ["id"],
        "columns": NOTE_COLUMNS,
        "load": {"mode": "incremental"},
    }
    config = source_config(folder["name"], "sftp", "partner_sftp", [entity], kafka={"publish_timeout_seconds": 10})
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
    return folder["name"]


def test_a_file_rewritten_with_the_same_mtime_but_another_size_loads_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = notes_source(tmp_path, monkeypatch, folder, "d_*.csv")
    mtime = float(int(time.time()) - 600)
    put(folder, "d_same.csv", b"id,amount,note\nD1,1.00,v1\n", mtime)
    first = run_stages(name, "notes", day(20), end_of(20))
    assert [f["name"] for f in first["extract_land"]["files_loaded"]] == ["d_same.csv"]

    # Rewritten in place (another size), its mtime set back: SFTP v3 mtimes are whole seconds, so a rewrite within
    # the same second looks the same.
    put(folder, "d_same.csv", b"id,amount,note\nD1,1.00,v2\nD2,9.00,new\n", mtime)
    second = run_stages(name, "notes", day(21), end_of(21))
    assert [f["name"] for f in second["extract_land"]["files_loaded"]] == ["d_same.csv"]
    assert sorted(landed_table(second["extract_land"]).column("note").to_pylist()) == ["new", "v2"]

    # Unchanged since: nothing new.
    third = run_stages(name, "notes", day(22), end_of(22))
    assert third["extract_land"]["files_loaded"] == []
    assert third["extract_land"]["rows"] == 0


def test_a_zero_byte_file_is_no_rows_and_one_not_utf8_fails_naming_entity_file_and_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = notes_source(tmp_path, monkeypatch, folder, "e_*.csv")
    put(folder, "e_empty.csv", b"")
    put(folder, "e_good.csv", b"id,amount,note\nG1,1.00,ok\n")
    first = run_stages(name, "notes", day(20), end_of(20))
    assert sorted((f["name"], f["rows"]) for f in first["extract_land"]["files_loaded"]) == [
        ("e_empty.csv", 0),
        ("e_good.csv", 1),
    ]

    put(folder, "e_bad.csv", b"id,amount,note\nE1,1.00,a\x00b\nE2,2.00,\xff\xfe\n")
    with pytest.raises(AirflowFailException) as failure:  # terminal: retrying cannot help
        run_stages(name, "notes", day(21), end_of(21), stages=("extract_land",))
    assert str(failure.value) == f"{name}.notes: e_bad.csv: cannot be read as csv: not utf-8 text at byte 35"


def test_a_malformed_row_is_quarantined_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = sftp_source(tmp_path, monkeypatch, folder)
    body = HEADER + csv_rows(1, 2) + "PO-X,1.00\n" + "PO-Y,not-a-number,y@partner.example,2026-11-02T10:00:00Z\n"
    put(folder, "orders_bad.csv", (body + csv_rows(3, 1)).encode())
    summary = extract(name)
    assert (summary["rows"], summary["quarantined"], summary["records_seen"]) == (3, 2, 5)
    container, _, path = summary["quarantine_file"].partition("/")
    lines = [json.loads(x) for x in Lake.from_conn_id("lake_wasb", container).get(path).decode().splitlines()]
    assert {line["where"] for line in lines} == {"orders_bad.csv line 4", "orders_bad.csv record 3"}
    assert next(line["record"] for line in lines if line["where"] == "orders_bad.csv line 4") == "PO-X,1.00"
    assert any("expected 4 cell(s), found 2" in line["reason"] for line in lines)
    assert any("text that is not a decimal number" in line["reason"] for line in lines)  # never the value


def test_a_file_still_being_written_waits_for_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = sftp_source(tmp_path, monkeypatch, folder)
    put(folder, "orders_done.csv", (HEADER + csv_rows(1, 2)).encode(), time.time() - 60)
    stop = threading.Event()

    def keep_writing() -> None:
        hook = SFTPHook(ssh_conn_id="partner_sftp")
        with hook.get_managed_conn() as client, client.open(f"{folder['path']}/orders_growing.csv", "w") as handle:
            handle.write(HEADER)
            i = 100
            while not stop.is_set():
                handle.write(csv_rows(i, 50))
                handle.flush()
                i += 50
                time.sleep(0.2)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.5)
        summary = extract(name)
    finally:
        stop.set()
        writer.join()
    assert [f["name"] for f in summary["files_loaded"]] == ["orders_done.csv"]
    assert summary["files_waiting"] == ["orders_growing.csv"]


def test_odd_names_land_under_the_run_path_and_unsafe_ones_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = sftp_source(tmp_path, monkeypatch, folder, file_pattern="*")
    odd = "orders ü 'quoted' $(x) ;.csv"
    put(folder, odd, (HEADER + csv_rows(1, 1)).encode())
    put(folder, "orders\nforged.csv", (HEADER + csv_rows(2, 1)).encode())
    summary = extract(name)
    assert [f["name"] for f in summary["files_loaded"]] == [odd]
    assert summary["files_refused"] == ["'orders\\nforged.csv' contains a control or invisible formatting character"]
    assert landed_table(summary).column("_source_file").to_pylist() == [odd]
    assert all(path.startswith(f"{name}/orders/date=2026-11-22/{name}_orders_") for path in summary["files"])


def test_loaded_files_move_to_the_archive_after_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = sftp_source(tmp_path, monkeypatch, folder, archive_path=f"{folder['path']}_archive")
    put(folder, "orders_a.csv", (HEADER + csv_rows(1, 2)).encode())
    results = run_stages(name, "orders", day(20), end_of(20))
    assert results["commit"]["archived"] == ["orders_a.csv"]
    client = folder["client"]
    assert client.listdir(folder["path"]) == []
    assert client.listdir(f"{folder['path']}_archive") == ["orders_a.csv"]


def test_a_200_mb_csv_lands_with_flat_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = sftp_source(tmp_path, monkeypatch, folder)
    local = tmp_path / "big.csv"
    rows_per_chunk, chunks = 50_000, 62  # 3.1M rows of ~68 bytes: just over 200 MiB
    with local.open("w") as handle:
        handle.write(HEADER)
        for chunk in range(chunks):
            start = chunk * rows_per_chunk
            handle.write(
                "".join(
                    f"PO-{i:09d},{i % 100000}.{i % 100:02d},p.{i}@partner.example,2026-11-02T10:{i % 60:02d}:00Z\n"
                    for i in range(start, start + rows_per_chunk)
                )
            )
    size = local.stat().st_size
    assert size > 200 * 1024 * 1024
    folder["client"].put(str(local), f"{folder['path']}/orders_big.csv")
    local.unlink()
    # In a process of its own, so its peak RSS is the stage's alone.
    script = (
        "import json, sys\n"
        "from datetime import UTC, datetime\n"
        "from tests.integration.support import stage_context\n"
        "from ingestion.operators import ExtractLandOperator\n"
        f"op = ExtractLandOperator(task_id='x', source_name={name!r}, entity_name='orders')\n"
        "summary = op.execute(stage_context('scheduled__2026-11-22', datetime(2026, 11, 22, tzinfo=UTC)))\n"
        f"print(json.dumps({{'rows': summary['rows'], 'peak_mb': {PEAK_RSS_MB_SNIPPET}}}))\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows"] == rows_per_chunk * chunks
    peak_mb = result["peak_mb"]
    print(f"200 MB CSV ({size / 2**20:.0f} MiB, {result['rows']} rows): extract_land peak RSS {peak_mb:.0f} MB")
    assert peak_mb < 500
