"""Draft an SFTP entity from the newest file matching a pattern, through the source's Airflow connection (SFTPHook, as
the DAG reads): the format from the name, the columns from the file's start (CSV header and cells, JSON Lines records
flattened as the loader flattens them, Parquet's schema and first rows), typed from their values.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ingestion.onboarding.draft import (
    DraftEntity,
    columns_from_records,
    entity_name,
    guess_primary_key,
    suggest_all_pii,
)
from ingestion.onboarding.errors import ScaffoldError

SAMPLE_BYTES = 4 << 20  # what is read of a file's start (after gunzip)
DELIMITERS = ",;\t|"


def file_format(name: str) -> str:
    lower = name.lower().removesuffix(".gz")
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith(".parquet"):
        return "parquet"
    return "csv"


def draft_sftp(conn_id: str, path: str, pattern: str, sample_records: int) -> DraftEntity:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    from ingestion.extract.sftp_files import list_files

    where = f"{conn_id} {path}/{pattern}"
    with SFTPHook(ssh_conn_id=conn_id).get_managed_conn() as client:
        files, _ = list_files(client, path, pattern)
        if not files:
            raise ScaffoldError(f"{where}: no file matches; drop a sample file there first")
        newest = files[-1]
        fmt = file_format(newest.name)
        with client.open(newest.path, "rb") as remote:
            if fmt == "parquet":
                records = _parquet_records(remote, sample_records)
                delimiter = ","
            else:
                head = _head(remote, newest.name)
                records, delimiter = (
                    (_jsonl_records(head, sample_records), ",")
                    if fmt == "jsonl"
                    else _csv_records(head, sample_records)
                )
    columns, samples = columns_from_records(records)
    if not columns:
        raise ScaffoldError(f"{where}: {newest.name} holds no records to draft columns from")
    suggest_all_pii(columns, samples)
    primary_key = guess_primary_key(columns, samples)
    locator: dict[str, Any] = {"kind": "sftp", "remote_path": path, "file_pattern": pattern, "file_format": fmt}
    if delimiter != ",":
        locator["csv"] = {"delimiter": delimiter}
    notes = [
        f"columns from {len(records)} record(s) of {newest.name}, the newest of {len(files)} matching file(s)",
        "load: incremental (new or changed files, by the processed-file list)",
    ]
    if not primary_key:
        notes.append("no primary key found (no unique *id column sampled): name the columns that identify a record")
    return DraftEntity(
        name=entity_name(pattern.split("*")[0] or path.rstrip("/").rpartition("/")[2] or "files"),
        locator=locator,
        columns=columns,
        primary_key=primary_key,
        load={"mode": "incremental"},
        notes=notes,
    )


def _head(remote: Any, name: str) -> bytes:
    """The file's first SAMPLE_BYTES (unpacked when gzipped), cut after its last whole line."""
    import gzip

    stream: Any = gzip.GzipFile(fileobj=remote) if name.lower().endswith(".gz") else remote
    head = stream.read(SAMPLE_BYTES)
    if len(head) == SAMPLE_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    return bytes(head)


def _csv_records(head: bytes, limit: int) -> tuple[list[dict[str, Any]], str]:
    text = head.decode("utf-8-sig", errors="replace")
    first = text.partition("\n")[0]
    delimiter = max(DELIMITERS, key=first.count)
    rows = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    records = []
    for row in rows:
        records.append({k: (v if v != "" else None) for k, v in row.items() if k is not None})
        if len(records) >= limit:
            break
    return records, delimiter


def _jsonl_records(head: bytes, limit: int) -> list[dict[str, Any]]:
    from ingestion.extract.record_typing import split_record

    records = []
    for line in head.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if isinstance(record, dict):
            records.append(split_record(record, frozenset())[1])
        if len(records) >= limit:
            break
    return records


def _parquet_records(remote: Any, limit: int) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(remote)
    batch = next(parquet.iter_batches(batch_size=limit), None)
    return batch.to_pylist() if batch is not None else []
