"""Landing for sources whose records are typed on the way in (REST, files): masked batches to the lake as usual,
rejected records to a quarantine file, and the counts reconciliation needs (records seen = landed + quarantined +
outside the window).

The quarantine file holds records as they arrived, raw PII included, so it goes to the sensitive container, beside
the run's path but outside its prefix (a re-run's cleanup of stale parts must not take it):

    <sensitive>/<source>/<entity>/_quarantine/date=YYYY-MM-DD/<source>_<entity>_<stamp>_quarantine.jsonl

One JSON object per line: {"where": "page 3 record 7" | "<file> line 12", "reason": ..., "record": ...}. A re-run
of the run rewrites it, or deletes it when the re-run rejected nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.config.models import Column
    from ingestion.extract.record_typing import Rejected
    from ingestion.land.blob_writer import BlockBlobWriter
    from ingestion.land.lake import Lake
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.land.paths import LandingPaths
    from ingestion.pii.keys import PiiKeys
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)


def load_record_run_keys(plan: EntityPlan) -> PiiKeys:
    """The checks before a REST or file source is touched: declared columns (records are typed by them) and the PII
    keys (a missing one fails here)."""
    from ingestion.pipeline.masked_landing import load_plan_keys
    from ingestion.pipeline.sql_extract_land import ConfigNotSupportedError

    if not plan.entity.columns:
        raise ConfigNotSupportedError(
            f"{plan.source}.{plan.entity.name}: declare the entity's columns; records are typed by them"
        )
    return load_plan_keys(plan)


def advanced(previous: Any, seen: Any) -> Any:
    """A high mark after seeing `seen`: the larger of the two, ignoring None (never moves back)."""
    if seen is None or (previous is not None and seen <= previous):
        return previous
    return seen


def quarantine_path(paths: LandingPaths) -> str:
    from ingestion.land.paths import stamp_text

    day, stamp = f"{paths.stamp:%Y-%m-%d}", stamp_text(paths.stamp)
    return (
        f"{paths.source}/{paths.entity}/_quarantine/date={day}/{paths.source}_{paths.entity}_{stamp}_quarantine.jsonl"
    )


class Quarantine:
    """Rejected records, streamed as JSON Lines into one block blob that appears whole when the run lands."""

    def __init__(self, lake: Lake, path: str) -> None:
        self.lake = lake
        self.path = path
        self.count = 0
        self._writer: BlockBlobWriter | None = None

    def add(self, rejected: Sequence[Rejected]) -> None:
        if not rejected:
            return
        if self._writer is None:
            from ingestion.land.blob_writer import BlockBlobWriter

            self.lake.ensure_container()
            self._writer = BlockBlobWriter(self.lake.blob(self.path), block_bytes=4 * 1024 * 1024)
        for record in rejected:
            self._writer.write((record.as_json() + "\n").encode())
        self.count += len(rejected)
        if self.count <= 10 or self.count % 1000 < len(rejected):
            log.warning(
                "quarantined %d record(s) so far; latest: %s: %s", self.count, rejected[-1].where, rejected[-1].reason
            )

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None

    def finish(self) -> str | None:
        """The quarantine's `container/path`, or None when nothing was rejected (an earlier attempt's file goes)."""
        from azure.core.exceptions import ResourceNotFoundError

        if self._writer is None:
            try:
                self.lake.blob(self.path).delete_blob()
                log.info("removed the quarantine file of an earlier attempt of this run: %s", self.path)
            except ResourceNotFoundError:
                pass
            return None
        self._writer.close()
        self._writer = None
        return f"{self.lake.container}/{self.path}"


class RecordRunLanding:
    """A run's typed batches to the lake (PII policy applied) and its rejected records to the quarantine."""

    def __init__(self, plan: EntityPlan, run: RunInfo, keys: PiiKeys, columns: Sequence[Column]) -> None:
        from ingestion.land.lake import Lake
        from ingestion.pipeline.landed_run import landing_paths
        from ingestion.pipeline.masked_landing import MaskedLanding, pii_masker

        self.plan = plan
        self.lander = MaskedLanding(plan, run, pii_masker(plan, keys, columns))
        sensitive = Lake.from_conn_id(plan.landing.conn_id, plan.landing.sensitive_container)
        self.quarantine = Quarantine(sensitive, quarantine_path(landing_paths(plan, run)))
        self.records_seen = 0
        self.rows = 0
        self.outside_window = 0

    def add(self, batch: pa.RecordBatch, rejected: Sequence[Rejected], *, seen: int, outside_window: int = 0) -> None:
        self.lander.write(batch)
        self.quarantine.add(rejected)
        self.records_seen += seen
        self.rows += batch.num_rows
        self.outside_window += outside_window

    def abort(self) -> None:
        self.lander.abort()
        self.quarantine.abort()

    def finish(self, *, window: str, extra: dict[str, Any]) -> LandingManifest:
        quarantined_at = self.quarantine.finish()
        counts = {
            "records_seen": self.records_seen,
            "quarantined": self.quarantine.count,
            "quarantine_file": quarantined_at,
            "outside_window": self.outside_window,
        }
        log.info(
            "%s.%s: %d record(s) seen, %d landed, %d quarantined%s, %d outside the window",
            self.plan.source,
            self.plan.entity.name,
            self.records_seen,
            self.rows,
            self.quarantine.count,
            f" ({quarantined_at})" if quarantined_at else "",
            self.outside_window,
        )
        return self.lander.finish(window=window, extra={**extra, **counts})
