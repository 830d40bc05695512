"""Where a run's landed files are, worked out again from the run itself (not from XCom), so any stage, a retry or a
re-run finds the same manifest extract_land wrote."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ingestion.land.paths import LandingPaths, run_stamp
from ingestion.pipeline.errors import ManifestMissingError

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.config.models import Column
    from ingestion.land.lake_api import LakeContainer
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.pipeline.contracts import LandedRun
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan
    from ingestion.state.store import CommittedRunRecord


log = logging.getLogger(__name__)


def landing_paths(plan: EntityPlan, run: RunInfo) -> LandingPaths:
    """The run's paths (its manifest is the run's, also in a partition's task)."""
    return LandingPaths(
        plan.landing.container,
        plan.source,
        plan.entity.name,
        run_stamp(data_interval_end=run.file_stamp_interval_end, run_after=run.run_after),
        extension=plan.landing.format,
    )


def partition_paths(plan: EntityPlan, run: RunInfo) -> LandingPaths:
    """Where this task lands: the run's names, or its partition's (load.partitions)."""
    return landing_paths(plan, run).of_partition(run.partition)


def read_run_manifest(plan: EntityPlan, run: RunInfo, lake: LakeContainer) -> LandingManifest:
    from azure.core.exceptions import ResourceNotFoundError

    from ingestion.land.parquet_lander import read_manifest

    paths = landing_paths(plan, run)
    try:
        manifest = read_manifest(lake, paths)
    except ResourceNotFoundError:
        raise ManifestMissingError(
            f"{plan.source}.{plan.entity.name}: no manifest at {paths.container}/{paths.manifest}; "
            "extract_land has not finished for this run"
        ) from None
    if manifest.run_id != run.run_id:
        # Another run with the same stamp (e.g. a manual run at a scheduled instant) landed there last.
        raise ManifestMissingError(
            f"{plan.source}.{plan.entity.name}: {paths.manifest} belongs to run {manifest.run_id}, not {run.run_id}; "
            "re-run extract_land for this run"
        )
    return manifest


# Rows per Arrow batch read back from Parquet: big enough for vectorised work, small enough for flat memory.
READ_BATCH_ROWS = 20_000


def landed_columns(plan: EntityPlan, manifest: LandingManifest) -> tuple[Column, ...]:
    """The columns the run landed: the declared ones, or as schema evolution left them (kept in the manifest)."""
    evolved = manifest.facts.columns
    return evolved if evolved else tuple(plan.entity.columns)


def landed_batches(lake: LakeContainer, manifest: LandingManifest, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """The manifest's files, one at a time through a local temp file, in batches of READ_BATCH_ROWS: memory stays
    flat however big the run. Only `columns` are decoded. Downloading and decoding run a couple of batches ahead
    in a thread of their own, beside the caller's work on the batch before."""
    from ingestion.prefetch import prefetched

    return prefetched(_read_landed(lake, manifest, columns), name="landed-reader")


def _read_landed(lake: LakeContainer, manifest: LandingManifest, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    for landed in manifest.files:
        with tempfile.TemporaryFile(prefix="ingest-landed-") as tmp:
            lake.download_to(landed.path, tmp)
            tmp.seek(0)
            parquet = pq.ParquetFile(tmp)
            yield from parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=list(columns))


def landed_result(
    plan: EntityPlan,
    run: RunInfo,
    manifest: LandingManifest,
    *,
    seconds: float,
    window_start: str | None = None,
    window_end: str | None = None,
    already_committed: bool = False,
    frozen: bool = False,
    manifest_path: str | None = None,
) -> LandedRun:
    """What extract_land hands the later stages: where the files are, counts, window, watermarks. The window's ends
    default to the ones the manifest recorded; the manifest is the run's unless `manifest_path` names a partition's."""
    from ingestion.pipeline.contracts import LandedRun

    return LandedRun.of(
        manifest,
        manifest_path or landing_paths(plan, run).manifest,
        seconds=seconds,
        window_start=window_start,
        window_end=window_end,
        already_committed=already_committed,
        frozen=frozen,
    )


def committed_result(plan: EntityPlan, run: RunInfo, committed: CommittedRunRecord, storage: StageStorage) -> LandedRun:
    """A re-run of a committed run keeps what it landed and published: the window would be read again from a
    watermark that has moved on, so re-reading would overwrite its files with different rows."""
    manifest = read_run_manifest(plan, run, storage.landing(plan))
    log.info(
        "%s.%s run %s was committed before: keeping its %d landed rows, reading nothing",
        plan.source,
        plan.entity.name,
        run.run_id,
        manifest.rows,
    )
    return landed_result(
        plan,
        run,
        manifest,
        window_start=committed.window_start,
        window_end=committed.window_end,
        seconds=0.0,
        already_committed=True,
    )
