"""Hostile sources through the real extract_land operator: the stack's sample API serving pages of any size, gzip
bombs and nesting bombs (generated as they stream), and files on the stack's OpenSSH server that are too long,
unpack too far or have names built to escape a folder or forge a log line.

Each case must end with a clear terminal error (AirflowFailException: Airflow does not retry it) that names where,
which cap and how to raise it, and never a value. The bounded memory behind the caps is measured in
bench/hostile_sources_bench.py, not here.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from airflow.providers.sftp.hooks.sftp import SFTPHook
from airflow.sdk.exceptions import AirflowFailException

from ingestion.land.lake import Lake
from tests.integration.support import landed_table, run_stages, source_config, write_configs

END = datetime(2026, 11, 22, tzinfo=UTC)
MIB = 1024 * 1024
ORDER_COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "type": "bigint", "nullable": False},
    {"name": "customer_id", "type": "integer", "nullable": False},
    {"name": "status", "type": "string", "nullable": False},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]


def extract(name: str) -> dict[str, Any]:
    return run_stages(name, "orders", "scheduled__2026-11-22", END, stages=("extract_land",))["extract_land"]


# -- REST -------------------------------------------------------------------------------------------------------------


@pytest.fixture
def api(sample_api_url: str) -> Iterator[str]:
    requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()
    yield sample_api_url
    requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()


def served(api: str) -> int:
    return int(requests.get(f"{api}/_control/stats", timeout=5).json()["requests_served"])


def hostile_api_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str, params: dict[str, str], **http: Any
) -> str:
    name = f"x{uuid.uuid4().hex[:8]}"
    entity = {
        "name": "orders",
        "locator": {"kind": "http", "endpoint": endpoint, "params": params, "pagination": {"style": "none"}},
        "primary_key": ["id"],
        "columns": ORDER_COLUMNS,
        "load": {"mode": "full"},
    }
    # Retries as quick as they go: a cap that were retried would show in the request count, not in the test's time.
    http = {"requests_per_second": 50, "max_retry_wait_seconds": 1, **http}
    config = source_config(name, "http", "orders_api", [entity], http=http)
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
    return name


def test_a_1_gib_page_stops_at_the_default_cap_once_and_is_not_retried(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = hostile_api_source(tmp_path, monkeypatch, "/v1/hostile/page", {"size": str(1 << 30)})
    with pytest.raises(AirflowFailException) as failure:
        extract(name)
    message = str(failure.value)
    assert message.startswith(
        f"{name}.orders: GET /v1/hostile/page: the response went on past the cap (counted after decoding), more "
        "than http.max_response_bytes=67108864; ask for smaller pages"
    )
    assert "raise the source's http.max_response_bytes" in message
    assert "size=" not in message
    assert "1073741824" not in message
    assert served(api) == 1  # the same page would be as large again: asked once


def test_a_page_declaring_a_length_past_the_cap_is_refused_before_its_body_is_read(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = {"size": str(1 << 30), "declare_length": "true"}
    name = hostile_api_source(tmp_path, monkeypatch, "/v1/hostile/page", params)
    with pytest.raises(AirflowFailException, match=r"the response declares 1073741\d{3} bytes \(Content-Length\)"):
        extract(name)
    assert served(api) == 1


def test_a_gzip_bomb_is_counted_unpacked_and_stops_at_the_cap(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 10 GiB of JSON once unpacked, sent as a gzip stream about a thousandth of that; the cap here is 8 MiB.
    params = {"size": str(10 << 30), "gzip": "true"}
    name = hostile_api_source(tmp_path, monkeypatch, "/v1/hostile/page", params, max_response_bytes=8 * MIB)
    with pytest.raises(AirflowFailException) as failure:
        extract(name)
    assert "the response went on past the cap (counted after decoding), more than http.max_response_bytes=8388608" in (
        str(failure.value)
    )
    assert served(api) == 1


def test_a_json_nesting_bomb_fails_before_it_is_parsed(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 MB of brackets, inside the default size cap: ten million levels, where CPython's parser recurses per level.
    name = hostile_api_source(tmp_path, monkeypatch, "/v1/hostile/nested", {"depth": "10000000"})
    with pytest.raises(AirflowFailException) as failure:
        extract(name)
    assert str(failure.value) == (
        f"{name}.orders: GET /v1/hostile/nested: the response nests arrays and objects deeper than "
        "http.max_json_depth=64 levels; not parsed. Raise the source's http.max_json_depth if the API's records are "
        "that deep"
    )
    assert served(api) == 1


def test_a_page_within_the_caps_still_lands(api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 3 MiB of records, gzip-encoded, under a 4 MiB cap: the caps stop hostile pages, not ordinary ones.
    params = {"size": str(3 * MIB), "gzip": "true"}
    name = hostile_api_source(tmp_path, monkeypatch, "/v1/hostile/page", params, max_response_bytes=4 * MIB)
    summary = extract(name)
    assert summary["rows"] == summary["records_seen"] > 6000
    assert landed_table(summary).num_rows == summary["rows"]


# -- SFTP -------------------------------------------------------------------------------------------------------------

HEADER = b"partner_order_id,amount,ordered_at\n"
FILE_COLUMNS: list[dict[str, Any]] = [
    {"name": "partner_order_id", "type": "string", "nullable": False},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "ordered_at", "type": "timestamp", "nullable": False},
]


@pytest.fixture
def folder() -> Iterator[dict[str, Any]]:
    """A remote folder of the test's own, with an open SFTP client."""
    name = f"h{uuid.uuid4().hex[:8]}"
    hook = SFTPHook(ssh_conn_id="partner_sftp")
    with hook.get_managed_conn() as client:
        client.mkdir(f"inbound/{name}")
        yield {"name": name, "path": f"inbound/{name}", "client": client}


def put_streamed(folder: dict[str, Any], file_name: str, pieces: Iterator[bytes]) -> None:
    """Writes a file on the server piece by piece, so a big one is never whole in the test's memory."""
    with folder["client"].open(f"{folder['path']}/{file_name}", "wb") as remote:
        remote.set_pipelined(True)
        for piece in pieces:
            remote.write(piece)


def put(folder: dict[str, Any], file_name: str, data: bytes) -> None:
    folder["client"].putfo(io.BytesIO(data), f"{folder['path']}/{file_name}")


def hostile_file_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any], **locator: Any) -> str:
    name = folder["name"]
    entity = {
        "name": "orders",
        "locator": {
            "kind": "sftp",
            "remote_path": folder["path"],
            "file_pattern": "*",
            "file_format": "csv",
            "settle_seconds": 0,
            **locator,
        },
        "primary_key": ["partner_order_id"],
        "columns": FILE_COLUMNS,
        "load": {"mode": "incremental"},
    }
    config = source_config(name, "sftp", "partner_sftp", [entity])
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
    return name


def rows(first: int, count: int) -> bytes:
    return b"".join(b"PO-%d,%d.25,2026-11-02T10:00:00Z\n" % (i, i) for i in range(first, first + count))


def test_a_csv_row_larger_than_the_read_block_fails_naming_the_file_and_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    # A 9 MiB cell: more than two of the default 4 MiB blocks, which is what Arrow's reader cannot carry.
    name = hostile_file_source(tmp_path, monkeypatch, folder)
    put_streamed(folder, "orders_wide.csv", iter([HEADER, rows(1, 10), b"PO-X,", b"9" * MIB * 9, b",x\n", rows(11, 5)]))
    with pytest.raises(AirflowFailException) as failure:
        extract(name)
    assert str(failure.value) == (
        f"{name}.orders: orders_wide.csv: has a CSV row longer than the locator's max_record_bytes=4194304; not "
        "loaded. Raise max_record_bytes if records this long are expected (CSV is read in blocks of that size: memory "
        "grows with it)"
    )


def test_a_single_line_jsonl_file_fails_at_the_line_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    # The gigabyte line of bench/hostile_sources_bench.py, scaled to a 1 MiB cap and a 3 MiB line.
    name = hostile_file_source(tmp_path, monkeypatch, folder, file_format="jsonl", max_record_bytes=MIB)
    line = (b'{"partner_order_id": "', b"x" * MIB, b"x" * MIB, b"x" * MIB, b'"}')  # no line end at all
    put_streamed(folder, "orders_one_line.jsonl", iter(line))
    with pytest.raises(AirflowFailException) as failure:
        extract(name)
    assert str(failure.value).startswith(
        f"{name}.orders: orders_one_line.jsonl: line 1 is longer than the locator's max_record_bytes=1048576; "
        "not loaded"
    )


def test_a_gzip_bomb_file_fails_at_max_file_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    # 2,000,000 identical rows: 74 MB unpacked from under 200 KB, against a 16 MiB cap.
    name = hostile_file_source(tmp_path, monkeypatch, folder, max_file_bytes=16 * MIB)
    put(folder, "orders_bomb.csv.gz", gzip.compress(HEADER + b"PO-1,1.25,2026-11-02T10:00:00Z\n" * 2_000_000, 9))
    with pytest.raises(AirflowFailException) as failure:
        extract(name)
    assert str(failure.value).startswith(
        f"{name}.orders: orders_bomb.csv.gz: went on past the cap, more than the locator's max_file_bytes=16777216 "
        "(counted after decompression); not loaded. Raise max_file_bytes"
    )


def test_a_file_listed_larger_than_max_file_bytes_is_not_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = hostile_file_source(tmp_path, monkeypatch, folder, max_file_bytes=4096)
    data = HEADER + rows(1, 200)
    put(folder, "orders_big.csv", data)
    with pytest.raises(AirflowFailException) as failure:
        extract(name)
    assert str(failure.value) == (
        f"{name}.orders: orders_big.csv is {len(data)} bytes on the server, more than the locator's "
        "max_file_bytes=4096; not loaded. Raise max_file_bytes if files this large are expected"
    )


TRICKY_NAMES = {
    "..\\..\\..\\etc\\orders.csv": "contains a path separator",
    "orders\\..\\x.csv": "contains a path separator",
    "orders\r\nINFO forged log line.csv": "contains a control or invisible formatting character",
    "orders\x1b[2J.csv": "contains a control or invisible formatting character",  # clears a terminal
    "orders\u202evsc.csv": "contains a control or invisible formatting character",  # shows as "orders.csv" reversed
    "orders\x7f.csv": "contains a control or invisible formatting character",
}


def test_file_names_with_path_tricks_and_control_characters_are_refused_and_never_reach_a_path_or_a_log_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    name = hostile_file_source(tmp_path, monkeypatch, folder)
    for number, tricky in enumerate(TRICKY_NAMES):
        put(folder, tricky, HEADER + rows(100 * number, 2))
    put(folder, "orders ok.csv", HEADER + rows(1, 3))
    with caplog.at_level(logging.INFO):
        summary = extract(name)
    assert [f["name"] for f in summary["files_loaded"]] == ["orders ok.csv"]
    assert sorted(summary["files_refused"]) == sorted(f"{tricky!r} {why}" for tricky, why in TRICKY_NAMES.items())
    assert landed_table(summary).column("partner_order_id").to_pylist() == ["PO-1", "PO-2", "PO-3"]
    # Everything the run wrote is under the source's own folder of the run's day.
    lake = Lake.from_conn_id("lake_wasb", summary["container"])
    written = lake.names(f"{name}/")
    assert written
    assert all(path.startswith(f"{name}/orders/date=2026-11-22/{name}_orders_") for path in written)
    assert lake.names("..") == lake.names("etc") == []
    # The log names each refused file escaped, on one line: no raw control character reaches a log record.
    refusals = [r.getMessage() for r in caplog.records if "not reading the file name" in r.getMessage()]
    assert len(refusals) == len(TRICKY_NAMES)
    assert not [message for message in refusals if any(ch in message for ch in "\r\n\x1b\u202e\x7f")]


def test_a_file_whose_header_lacks_or_repeats_a_declared_column_is_not_landed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    # Missing, the column landed as NULL in every row and the run succeeded; named twice, Arrow took the first.
    name = hostile_file_source(tmp_path, monkeypatch, folder)
    put(folder, "a.csv", b"partner_order_id,ordered_at\n" + b"PO-1,2026-11-02T10:00:00Z\n")
    with pytest.raises(AirflowFailException) as missing:
        extract(name)
    assert "a.csv: the file has no column(s) ['amount'] of the config" in str(missing.value)
    assert "schema_drift is 'fail'" in str(missing.value)

    folder["client"].remove(f"{folder['path']}/a.csv")
    put(folder, "b.csv", b"partner_order_id,amount,amount,ordered_at\nPO-1,1.00,2.00,2026-11-02T10:00:00Z\n")
    with pytest.raises(AirflowFailException, match=r"b.csv: the file names column\(s\) \['amount'\] more than once"):
        extract(name)


def test_under_schema_drift_warn_a_missing_column_lands_as_null_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: dict[str, Any]
) -> None:
    name = hostile_file_source(tmp_path, monkeypatch, folder)
    configs = tmp_path / "configs"
    config = json.loads((configs / f"{name}.json").read_text())
    config["entities"][0]["columns"].append({"name": "note", "type": "string"})
    config["entities"][0]["schema_drift"] = "warn"
    (configs / f"{name}.json").write_text(json.dumps(config))
    put(folder, "a.csv", HEADER + rows(1, 3))

    summary = extract(name)

    assert summary["rows"] == 3
    assert landed_table(summary).column("note").null_count == 3
    checks = {
        c["name"]: c
        for c in run_stages(name, "orders", "scheduled__2026-11-22", END, stages=("validate",))["validate"]["checks"]
    }
    assert checks["schema_drift"]["severity"] == "warn"
    assert "a.csv: missing note" in checks["schema_drift"]["detail"]
    assert checks["schema_drift"]["observed"]["missing"] == ["note"]
