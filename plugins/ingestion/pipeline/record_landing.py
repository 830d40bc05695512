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

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingestion.extract.record_typing import Rejected
    from ingestion.land.blob_writer import BlockBlobWriter
    from ingestion.land.lake_api import LakeContainer
    from ingestion.land.landing_facts import LandingFacts
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.land.paths import LandingPaths
    from ingestion.pii.masking import PiiMasker
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.sources.base import SourceBatch
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)


def quarantine_path(paths: LandingPaths) -> str:
    from ingestion.land.paths import stamp_text

    day, stamp = f"{paths.stamp:%Y-%m-%d}", stamp_text(paths.stamp)
    return (
        f"{paths.source}/{paths.entity}/_quarantine/date={day}/{paths.source}_{paths.entity}_{stamp}_quarantine.jsonl"
    )


class Quarantine:
    """Rejected records, streamed as JSON Lines into one block blob that appears whole when the run lands."""

    def __init__(self, lake: LakeContainer, path: str) -> None:
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

    def __init__(self, plan: EntityPlan, run: RunInfo, masker: PiiMasker, storage: StageStorage) -> None:
        from ingestion.pipeline.landed_run import landing_paths
        from ingestion.pipeline.masked_landing import MaskedLanding

        self.plan = plan
        self.lander = MaskedLanding(plan, run, masker, storage)
        sensitive = storage.lake(plan.landing.sensitive_container)
        self.quarantine = Quarantine(sensitive, quarantine_path(landing_paths(plan, run)))
        self.records_seen = 0
        self.rows = 0
        self.outside_window = 0

    def add(self, part: SourceBatch) -> None:
        self.lander.write(part.batch)
        self.quarantine.add(part.rejected)
        self.records_seen += part.seen
        self.rows += part.batch.num_rows
        self.outside_window += part.outside_window

    def abort(self) -> None:
        self.lander.abort()
        self.quarantine.abort()

    def finish(self, *, window: str, facts: LandingFacts) -> LandingManifest:
        from ingestion.land.landing_facts import RecordCounts

        quarantined_at = self.quarantine.finish()
        counts = RecordCounts(
            records_seen=self.records_seen,
            quarantined=self.quarantine.count,
            quarantine_file=quarantined_at,
            outside_window=self.outside_window,
        )
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
        return self.lander.finish(window=window, facts=dataclasses.replace(facts, records=counts))
