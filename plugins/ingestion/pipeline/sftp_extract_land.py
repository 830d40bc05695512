"""extract_land for SFTP sources: pick the new, settled files, copy each to a local temp file, stream its records
into the run's landing with the file's name in `_source_file`.

Every file a run loads lands in the run's own parts (paths never contain a server file name); the manifest lists
them under `files_loaded` (name, size, mtime, rows), which commit writes to the processed-file list and, when the
locator has an `archive_path`, moves on the server. The watermark is the newest mtime loaded (for `status` and
audits); which files are new is decided by the processed-file list.

Each file goes through a local temporary file (SFTPHook's prefetching get, at disk speed), not memory: the parse
then streams from disk, so a file larger than memory lands with flat memory.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.config.models import SOURCE_FILE_COLUMN
from ingestion.faults import fault_point
from ingestion.pipeline.landed_run import landed_summary
from ingestion.pipeline.run_guard import reuse_or_guard
from ingestion.state import watermark_values

if TYPE_CHECKING:
    import pyarrow as pa
    from paramiko import SFTPClient

    from ingestion.config.models import SftpLocator
    from ingestion.extract.record_typing import RecordTyper
    from ingestion.extract.sftp_files import RemoteFile
    from ingestion.pipeline.record_landing import RecordRunLanding
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)


def _with_source_file(batch: pa.RecordBatch, name: str) -> pa.RecordBatch:
    import pyarrow as pa

    column = pa.nulls(batch.num_rows, pa.string()).fill_null(name)
    schema = batch.schema.append(pa.field(SOURCE_FILE_COLUMN, pa.string(), nullable=False))
    return pa.RecordBatch.from_arrays([*batch.columns, column], schema=schema)


def extract_land(plan: EntityPlan, run: RunInfo) -> dict[str, Any]:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    from ingestion.extract.record_typing import RecordTyper
    from ingestion.extract.sftp_files import new_files, settled_files
    from ingestion.pipeline.record_landing import RecordRunLanding, advanced, load_record_run_keys
    from ingestion.state.store import open_control_store

    entity = plan.entity
    locator = entity.locator
    assert locator.kind == "sftp"
    where = f"{plan.source}.{entity.name}"
    keys = load_record_run_keys(plan)
    started = time.monotonic()
    with open_control_store() as store:
        reused = reuse_or_guard(plan, run, store)
        if reused is not None:
            return reused
        processed = store.processed_files(plan.source, entity.name)
        mark = store.get_watermark(plan.source, entity.name)
    watermark = watermark_values.decode(mark.value, mark.value_type) if mark else None
    full = entity.load.mode == "full" or run.full_refresh
    typer = RecordTyper(entity.columns)
    columns = [*entity.columns, *entity.platform_columns]
    hook = SFTPHook(ssh_conn_id=plan.conn_id)
    with hook.get_managed_conn() as client:
        steady, changing, refused = settled_files(
            client, locator.remote_path, locator.file_pattern, locator.settle_seconds
        )
        for text in refused:
            log.warning("%s: not reading the file name %s", where, text)
        for remote in changing:
            log.info(
                "%s: %s is still being written (size or mtime changed); it waits for the next run", where, remote.name
            )
        todo = new_files(steady, processed, full_refresh=full)
        log.info(
            "%s: %d matching file(s) settled, %d to load%s",
            where,
            len(steady),
            len(todo),
            " (full refresh: all of them)" if full and steady else "",
        )
        landing = RecordRunLanding(plan, run, keys, columns)
        loaded: list[dict[str, Any]] = []
        try:
            with tempfile.TemporaryDirectory(prefix="ingest-sftp-") as scratch:
                for number, remote in enumerate(todo, start=1):
                    fault_point("sftp.file", where, progress=number - 1)
                    loaded.append(_land_file(client, remote, Path(scratch), locator, typer, landing))
                    log.info(
                        "%s: file %d of %d: %s, %d rows", where, number, len(todo), remote.name, loaded[-1]["rows"]
                    )
        except BaseException:
            landing.abort()
            raise
    new_watermark = advanced(watermark, max((r.mtime for r in todo), default=None))
    extra: dict[str, Any] = {
        "watermark_from": watermark_values.encode(watermark),
        "watermark_to": watermark_values.encode(new_watermark),
        "watermark_type": "timestamp",
        "columns": [c.model_dump(mode="json", exclude_defaults=True) for c in columns],
        "files_loaded": loaded,
        "files_waiting": [r.name for r in changing],
        "files_refused": refused,
        "window_start": watermark_values.encode(watermark),
        "window_end": watermark_values.encode(new_watermark),
    }
    described = f"{len(todo)} file(s)" + (f": {', '.join(r.name for r in todo[:5])}" if todo else "")
    manifest = landing.finish(window=described + (" ..." if len(todo) > 5 else ""), extra=extra)
    seconds = round(time.monotonic() - started, 3)
    log.info("%s: landed %d rows from %d file(s) in %.1f s", where, manifest.rows, len(todo), seconds)
    return landed_summary(plan, run, manifest, seconds=seconds)


def _land_file(
    client: SFTPClient,
    remote: RemoteFile,
    scratch: Path,
    locator: SftpLocator,
    typer: RecordTyper,
    landing: RecordRunLanding,
) -> dict[str, Any]:
    """One file: copied to scratch (then removed), parsed in chunks, landed; returns its entry for files_loaded."""
    from ingestion.extract.file_readers import read_file

    local = scratch / "current"
    client.get(remote.path, str(local), prefetch=True)
    rows = rejected = 0
    try:
        for chunk in read_file(local, remote.name, locator, typer):
            landing.add(_with_source_file(chunk.batch, remote.name), chunk.rejected, seen=chunk.seen)
            rows += chunk.batch.num_rows
            rejected += len(chunk.rejected)
    finally:
        local.unlink(missing_ok=True)
    return {**remote.as_dict(), "rows": rows, "quarantined": rejected}


def archive_loaded_files(plan: EntityPlan, files_loaded: list[dict[str, Any]]) -> list[str]:
    """After commit: move the run's files to the locator's archive_path on the server. The run is committed either
    way (the processed-file list keeps them from loading again), so a file that cannot be moved is logged, not
    raised. A file already gone (archived by an earlier try) is skipped. Returns the archived names."""
    import posixpath

    from airflow.providers.sftp.hooks.sftp import SFTPHook

    locator = plan.entity.locator
    assert locator.kind == "sftp"
    if not locator.archive_path or not files_loaded:
        return []
    archived: list[str] = []
    hook = SFTPHook(ssh_conn_id=plan.conn_id)
    with hook.get_managed_conn() as client:
        for entry in files_loaded:
            target = posixpath.join(locator.archive_path, entry["name"])
            try:
                client.posix_rename(entry["path"], target)  # replaces an older copy of the same name
                archived.append(entry["name"])
            except FileNotFoundError:
                log.info("%s is no longer in %s (archived before?)", entry["name"], locator.remote_path)
            except OSError as exc:
                log.warning("could not archive %s to %s: %s; it stays where it is", entry["path"], target, exc)
    log.info("archived %d file(s) to %s", len(archived), locator.archive_path)
    return archived
