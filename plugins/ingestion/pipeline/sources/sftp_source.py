"""SFTP sources: pick the new, settled files, copy each to a local temp file, stream its records with the file's
name in `_source_file`.

Every file a run loads lands in the run's own parts (paths never contain a server file name); the manifest lists
them under `files_loaded` (name, size, mtime, rows), which commit writes to the processed-file list and, when the
locator has an `archive_path`, this source moves on the server after commit. The watermark is the newest mtime
loaded (for `status` and audits; a run that loads only files at the watermark's mtime leaves it where it is); which
files are new is decided by the processed-file list (mtime and size), never by the watermark.

Each file goes through a local temporary file (SFTPHook's prefetching get, at disk speed), not memory: the parse
then streams from disk, so a file larger than memory lands with flat memory.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Generator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.config.models import SOURCE_FILE_COLUMN
from ingestion.faults import fault_point
from ingestion.pipeline.sources.base import Source, SourceBatch, SourceRead

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.extract.sftp_files import RemoteFile
    from ingestion.land.landing_facts import LandingFacts, LoadedFile, SchemaDriftFacts
    from ingestion.pipeline.contracts import LandedRun
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan
    from ingestion.state.store import ControlStore

log = logging.getLogger(__name__)

# Files named in the manifest's window text; the rest is "...".
DESCRIBED_FILES = 5


def _with_source_file(batch: pa.RecordBatch, name: str) -> pa.RecordBatch:
    import pyarrow as pa

    column = pa.nulls(batch.num_rows, pa.string()).fill_null(name)
    schema = batch.schema.append(pa.field(SOURCE_FILE_COLUMN, pa.string(), nullable=False))
    return pa.RecordBatch.from_arrays([*batch.columns, column], schema=schema)


class SftpSource(Source):
    kind = "sftp"
    counts_records = True

    def __init__(self, plan: EntityPlan, run: RunInfo) -> None:
        super().__init__(plan, run)
        self.processed: dict[str, tuple[datetime, int]] = {}
        self.todo: list[RemoteFile] = []
        self.waiting: list[str] = []
        self.refused: list[str] = []
        self.loaded: list[LoadedFile] = []
        self.missing: dict[str, list[str]] = {}  # file -> declared columns its header lacks (schema_drift warn/evolve)

    def check_config(self) -> None:
        self.require_declared_columns("records are typed by them")

    def prepare(self, store: ControlStore) -> SourceRead:
        from ingestion.extract.cursor import Cursor

        entity = self.plan.entity
        self.processed = store.processed_files(self.plan.source, entity.name)
        mark = self.stored_watermark(store)
        cursor = Cursor.for_files(entity.load, mark, full_refresh=self.run.full_refresh, where=self.where)
        self._read = SourceRead(cursor, None, (*entity.columns, *entity.platform_columns))
        return self._read

    def batches(self) -> Generator[SourceBatch, None, None]:
        from airflow.providers.sftp.hooks.sftp import SFTPHook

        from ingestion.extract.record_typing import RecordTyper
        from ingestion.extract.sftp_files import new_files, settled_files

        locator = self.plan.entity.locator
        assert locator.kind == "sftp"
        full = self.read.cursor.full_refresh
        hook = SFTPHook(ssh_conn_id=self.plan.conn_id)
        with hook.get_managed_conn() as client:
            steady, changing, self.refused = settled_files(
                client, locator.remote_path, locator.file_pattern, locator.settle_seconds
            )
            for text in self.refused:
                log.warning("%s: not reading the file name %s", self.where, text)
            for remote in changing:
                log.info(
                    "%s: %s is still being written (size or mtime changed); it waits for the next run",
                    self.where,
                    remote.name,
                )
            self.waiting = [r.name for r in changing]
            self.todo = new_files(steady, self.processed, full_refresh=full)
            log.info(
                "%s: %d matching file(s) settled, %d to load%s",
                self.where,
                len(steady),
                len(self.todo),
                " (full refresh: all of them)" if full and steady else "",
            )
            typer = RecordTyper(self.plan.entity.columns)
            with tempfile.TemporaryDirectory(prefix="ingest-sftp-") as scratch:
                for number, remote in enumerate(self.todo, start=1):
                    fault_point("sftp.file", self.where, progress=number - 1)
                    yield from self._file(client, remote, Path(scratch) / "current", typer)
                    log.info(
                        "%s: file %d of %d: %s, %d rows",
                        self.where,
                        number,
                        len(self.todo),
                        remote.name,
                        self.loaded[-1].rows,
                    )

    def _file(self, client: Any, remote: RemoteFile, local: Path, typer: Any) -> Generator[SourceBatch, None, None]:
        """One file: copied to scratch (then removed), parsed in chunks; its entry joins `loaded` once landed."""
        from ingestion.extract.errors import FileTooLargeError, SourceCapExceededError, UnreadableFileError
        from ingestion.extract.file_readers import read_file
        from ingestion.land.landing_facts import LoadedFile
        from ingestion.validate.errors import SchemaDriftError

        locator = self.plan.entity.locator
        assert locator.kind == "sftp"
        if remote.size > locator.max_file_bytes:  # not even copied: a gzip file only unpacks larger
            raise FileTooLargeError(
                f"{self.where}: {remote.name} is {remote.size} bytes on the server, more than the locator's "
                f"max_file_bytes={locator.max_file_bytes}; not loaded. Raise max_file_bytes if files this large are "
                "expected"
            )
        client.get(remote.path, str(local), prefetch=True)
        rows = rejected = 0
        try:
            on_columns = functools.partial(self._check_columns, remote.name)
            for chunk in read_file(local, remote.name, locator, typer, on_columns):
                yield SourceBatch(_with_source_file(chunk.batch, remote.name), chunk.rejected, seen=chunk.seen)
                rows += chunk.batch.num_rows
                rejected += len(chunk.rejected)
        except (SourceCapExceededError, UnreadableFileError, SchemaDriftError) as error:
            raise type(error)(f"{self.where}: {error}") from None  # the file reader knows the file, not the entity
        finally:
            local.unlink(missing_ok=True)
        self.loaded.append(LoadedFile(remote.name, remote.path, remote.size, remote.mtime.isoformat(), rows, rejected))

    def _check_columns(self, name: str, named: list[str]) -> None:
        """A file's header (or Parquet schema) against the declared columns, before its rows are read: a declared
        column named twice is ambiguous (Arrow takes the first); one that is missing would land as NULL in every
        row, so it is schema drift, and the entity's `schema_drift` decides (as a table's missing column)."""
        from ingestion.extract.errors import UnreadableFileError
        from ingestion.validate.errors import SchemaDriftError

        entity = self.plan.entity
        declared = [c.name for c in entity.columns]
        if twice := sorted({n for n in declared if named.count(n) > 1}):
            raise UnreadableFileError(
                f"{name}: the file names column(s) {twice} more than once, so which one holds the value is "
                "ambiguous; not loaded. Fix the file"
            )
        missing = [n for n in declared if n not in named]
        if not missing:
            return
        if entity.schema_drift == "fail":
            raise SchemaDriftError(
                f"{name}: the file has no column(s) {missing} of the config (its header names {len(named)} "
                "column(s)); schema_drift is 'fail', so nothing was landed. Fix the file, update the entity's "
                "columns, or set schema_drift to 'warn' (missing columns land as NULL)"
            )
        log.warning(
            "%s: %s has no column(s) %s: they land as NULL (schema_drift %s)",
            self.where,
            name,
            missing,
            entity.schema_drift,
        )
        self.missing[name] = missing

    def new_watermark(self, highest_landed: Any) -> Any:
        return self.read.cursor.advanced(max((r.mtime for r in self.todo), default=None))

    def facts(self, new_watermark: Any, *, left_out: int) -> LandingFacts:
        from ingestion.land.landing_facts import FileFacts, LandingFacts

        cursor = self.read.cursor
        move = cursor.move(new_watermark)
        return LandingFacts(
            watermark_from=move.start,
            watermark_to=move.end,
            watermark_type=move.value_type,
            window_start=move.start,
            window_end=move.end,
            columns=self.read.columns,
            files=FileFacts(tuple(self.loaded), tuple(self.waiting), tuple(self.refused)),
            schema_drift=self._drift_facts(),
        )

    def _drift_facts(self) -> SchemaDriftFacts | None:
        from ingestion.land.landing_facts import SchemaDriftFacts

        if not self.missing:
            return None
        detail = "; ".join(f"{name}: missing {', '.join(columns)}" for name, columns in sorted(self.missing.items()))
        gone = sorted({c for columns in self.missing.values() for c in columns})
        return SchemaDriftFacts(self.plan.entity.schema_drift, detail, missing=tuple(gone))

    def describe(self) -> str:
        names = ", ".join(r.name for r in self.todo[:DESCRIBED_FILES])
        described = f"{len(self.todo)} file(s)" + (f": {names}" if self.todo else "")
        return described + (" ..." if len(self.todo) > DESCRIBED_FILES else "")

    def read_from(self) -> str:
        return f"from {len(self.todo)} file(s)"

    def after_commit(self, landed: LandedRun) -> tuple[str, ...]:
        """Move the run's files to the locator's archive_path on the server. The run is committed either way (the
        processed-file list keeps them from loading again), so a file that cannot be moved is logged, not raised.
        A file already gone (archived by an earlier try) is skipped. Returns the archived names."""
        import posixpath

        from airflow.providers.sftp.hooks.sftp import SFTPHook

        locator = self.plan.entity.locator
        assert locator.kind == "sftp"
        files = landed.files_loaded
        if not locator.archive_path or not files:
            return ()
        archived: list[str] = []
        hook = SFTPHook(ssh_conn_id=self.plan.conn_id)
        with hook.get_managed_conn() as client:
            for entry in files:
                target = posixpath.join(locator.archive_path, entry.name)
                try:
                    client.posix_rename(entry.path, target)  # replaces an older copy of the same name
                    archived.append(entry.name)
                except FileNotFoundError:
                    log.info("%s is no longer in %s (archived before?)", entry.name, locator.remote_path)
                except OSError as exc:
                    log.warning("could not archive %s to %s: %s; it stays where it is", entry.path, target, exc)
        log.info("archived %d file(s) to %s", len(archived), locator.archive_path)
        return tuple(archived)
