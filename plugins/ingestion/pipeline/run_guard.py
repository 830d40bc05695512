"""Which runs may read their source, and which must re-use what they landed. Checked first by every extract_land.

- A run that committed keeps what it landed: its window would be read again from a watermark that has moved on.
- A run whose publish began is frozen: its landing may be in Kafka already, so a retry, or a clear from extract_land
  after a failed commit, re-uses the same landing (same files, same window, same watermarks) and reads nothing.
  Landing it again would publish nothing (the run is in the publish log) while commit moved the watermark over rows
  that never reached Kafka.
- A run of a watermark entity does not read while an earlier run of the entity began publishing from the live
  watermark and never committed: it would read and publish that run's rows again. Airflow keeps scheduled runs
  waiting (extract_land waits for the previous run's commit), but not runs without a logical date (manual
  triggers), nor a run whose predecessor's commit was marked success by hand: for those, extract_land raises
  PreviousRunNotCommittedError and its operator looks again later (up_for_reschedule) until that run committed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ingestion.pipeline.errors import PreviousRunNotCommittedError
from ingestion.pipeline.landed_run import committed_result, landed_result, read_run_manifest

if TYPE_CHECKING:
    from ingestion.pipeline.contracts import LandedRun
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan
    from ingestion.state.store import ControlStore, PublishRecord

log = logging.getLogger(__name__)


def moves_watermark(plan: EntityPlan, run: RunInfo) -> bool:
    """Only incremental entities have a live watermark, and only their non-backfill runs move it."""
    return plan.entity.load.mode == "incremental" and not run.is_backfill


def reuse_or_guard(plan: EntityPlan, run: RunInfo, store: ControlStore, storage: StageStorage) -> LandedRun | None:
    """The result extract_land returns instead of reading (the run committed, or its publish began), or None when
    the run may read its source. Raises PreviousRunNotCommittedError (see the module docstring)."""
    committed = store.committed_run(plan.source, plan.entity.name, run.run_id)
    if committed is not None:
        return committed_result(plan, run, committed, storage)
    started = store.publish_record(plan.source, plan.entity.name, run.run_id)
    if started is not None:
        return frozen_result(plan, run, started, storage)
    if moves_watermark(plan, run):
        refuse_behind_an_uncommitted_publish(plan, run, store)
    return None


def frozen_result(plan: EntityPlan, run: RunInfo, started: PublishRecord, storage: StageStorage) -> LandedRun:
    from ingestion.state.errors import LandingChangedError

    manifest = read_run_manifest(plan, run, storage.landing(plan))
    if manifest.landing_id != started.landing_id:
        raise LandingChangedError(
            f"{plan.source}.{plan.entity.name} run {run.run_id}: its publish began with landing "
            f"{started.landing_id}, but {started.manifest} now names landing {manifest.landing_id or '(none)'}; "
            "the landing was replaced outside this run. Restore it, or trigger a new run"
        )
    log.info(
        "%s.%s run %s began publishing before: re-using its landing (%d rows, window %s), reading nothing",
        plan.source,
        plan.entity.name,
        run.run_id,
        manifest.rows,
        manifest.window,
    )
    return landed_result(plan, run, manifest, seconds=0.0, frozen=True)


def refuse_behind_an_uncommitted_publish(plan: EntityPlan, run: RunInfo, store: ControlStore) -> None:
    from ingestion.state.watermark_values import same_watermark

    where = f"{plan.source}.{plan.entity.name}"
    mark = store.get_watermark(plan.source, plan.entity.name)
    live = mark.value if mark is not None else None
    for earlier in store.uncommitted_publishes(plan.source, plan.entity.name, other_than=run.run_id):
        kind = earlier.watermark_type or "timestamp"
        if not earlier.moves_watermark or earlier.rows == 0:
            continue  # nothing of it can be read twice
        if not same_watermark(live, earlier.watermark_from, kind):
            continue  # its window no longer starts at the live watermark: reading from there repeats nothing of it
        what = (
            f"published {earlier.rows} row(s)"
            if earlier.published
            else "began publishing (whether its Kafka transaction committed is known to its publish task)"
        )
        start = "from the start" if earlier.watermark_from is None else f"after watermark {earlier.watermark_from!r}"
        raise PreviousRunNotCommittedError(
            f"{where}: run {earlier.run_id} {what} for the window {start} and never committed, and the watermark "
            "is still where that run started: this run would read and publish those rows again, "
            f"so it waits. Let run {earlier.run_id} commit first: clear its publish and commit tasks (after fixing "
            f"why its commit failed); this run then goes on by itself. If that run's rows must not count, move the "
            f"watermark past them by hand: `scripts/ingest watermark set {plan.source} {plan.entity.name} "
            f"'{earlier.watermark_to}' --reason '...'`"
        )
