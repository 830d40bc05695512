"""extract_land for every kind of source: the entity's source (pipeline/sources/) reads, this drives the run.

In order: the source's config check; the PII keys (a missing one fails before the source is touched); the run
guard (pipeline/run_guard.py: a committed run keeps its landing, a run whose publish began re-uses it, a run behind
an uncommitted publish waits); the source's cursor, window and columns; then the read, batch by batch, through the
ties at the watermark (pipeline/boundary_ties.py) into the landing (masked, with a quarantine for sources that type
records), and last the manifest with the source's facts. Returns a LandedRun: paths, counts, window, schema
fingerprint, the watermark the run started from and the one commit should move to. Never the data, never a secret.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ingestion.land.landing_facts import LandingFacts
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.pii.keys import PiiKeys
    from ingestion.pipeline.contracts import LandedRun
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.sources.base import Source, SourceBatch, SourceRead
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)

# A progress line every this many rows landed.
PROGRESS_ROWS = 1_000_000


class RunLanding(Protocol):
    """Where a run's batches go: MaskedLanding (rows) or RecordRunLanding (typed records, with a quarantine)."""

    def add(self, part: SourceBatch) -> None: ...

    def abort(self) -> None: ...

    def finish(self, *, window: str, facts: LandingFacts) -> LandingManifest: ...


def extract_land(
    plan: EntityPlan, run: RunInfo, *, source: Source | None = None, storage: StageStorage | None = None
) -> LandedRun:
    """Land the run's window of the entity (see the module docstring). `source` and `storage` default to the
    entity's kind of source and the configured control DB and landing zone."""
    from ingestion.pipeline.landed_run import landed_result, partition_paths
    from ingestion.pipeline.masked_landing import load_plan_keys
    from ingestion.pipeline.run_guard import moves_watermark, reuse_or_guard
    from ingestion.pipeline.sources import source_for
    from ingestion.pipeline.storage import StageStorage

    storage = storage or StageStorage.of(plan)
    source = source or source_for(plan, run)
    source.check_config()
    keys = load_plan_keys(plan)  # a missing key fails here, before the source is touched
    started = time.monotonic()
    source.open()
    try:
        with storage.control_store() as store:
            reused = reuse_or_guard(plan, run, store, storage)
            if reused is not None:
                return reused
            # Read before the watermark: a run that commits in between counts as one that committed after.
            seen = store.latest_change(plan.source, plan.entity.name) if moves_watermark(plan, run) else None
            read = source.prepare(store)
            partitions = plan.entity.load.partitions
            if partitions is not None and run.partition is not None:
                from ingestion.pipeline.partition_agreement import agreed_cuts, agreed_window

                if read.window is not None and read.window.mode == "incremental":
                    read, seen = agreed_window(plan, run, storage, store, read, seen)
                    source.adopt(read)
                if partitions.ranges:
                    source.read_range(agreed_cuts(plan, run, storage, source.key_range))
        manifest = _land(plan, run, source, read, keys, storage, change_seen=seen)
    finally:
        source.close()
    seconds = round(time.monotonic() - started, 3)
    log.info(
        "%s: landed %d rows%s in %d file(s), %d bytes, in %.1f s",
        source.where,
        manifest.rows,
        f" {source.read_from()}" if source.read_from() else "",
        len(manifest.files),
        manifest.bytes,
        seconds,
    )
    return landed_result(plan, run, manifest, seconds=seconds, manifest_path=partition_paths(plan, run).manifest)


def _open_landing(
    plan: EntityPlan, run: RunInfo, source: Source, read: SourceRead, keys: PiiKeys, storage: StageStorage
) -> RunLanding:
    from ingestion.pipeline.masked_landing import MaskedLanding, pii_masker
    from ingestion.pipeline.record_landing import RecordRunLanding

    masker = pii_masker(plan, keys, read.columns)
    if source.counts_records:
        return RecordRunLanding(plan, run, masker, storage)
    return MaskedLanding(plan, run, masker, storage)


def _land(
    plan: EntityPlan,
    run: RunInfo,
    source: Source,
    read: SourceRead,
    keys: PiiKeys,
    storage: StageStorage,
    *,
    change_seen: int | None,
) -> LandingManifest:
    from ingestion.extract.cursor import HighMark
    from ingestion.pipeline.boundary_ties import boundary_ties

    landing = _open_landing(plan, run, source, read, keys, storage)
    window, cursor = read.window, read.cursor
    ties = None
    if window is not None:
        ties = boundary_ties(plan, run, keys, read.columns, window=window, watermark=cursor.start, storage=storage)
    high = HighMark(cursor.column) if window is not None and cursor.column and cursor.learns_high(window) else None
    try:
        parts = source.batches()
        rows = 0
        try:
            for part in parts:
                batch = part.batch
                if ties is not None:
                    batch = ties.leave_out(batch)  # counted apart, as left out at the boundary
                    ties.note(batch)
                if high is not None:
                    high.note(batch)
                landing.add(part if batch is part.batch else replace(part, batch=batch))
                rows += batch.num_rows
                if rows and rows % PROGRESS_ROWS < batch.num_rows:
                    log.info("%s: %d rows landed so far", source.where, rows)
        except BaseException:
            landing.abort()
            raise
        finally:
            parts.close()
        new_watermark = source.new_watermark(high.value if high is not None else None)
        if ties is not None:
            ties.finish(new_watermark)  # before the manifest: a landed run always has its keys recorded
    finally:
        if ties is not None:
            ties.close()
    facts = source.facts(new_watermark, left_out=ties.left_out if ties is not None else 0)
    facts = replace(facts, watermark_change_seen=change_seen)
    return landing.finish(window=source.describe(), facts=facts)
