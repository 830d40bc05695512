"""The range cut points of a run read in ranges (load.partitions.ranges): the same for every partition of the run.

Each partition's task may start on another worker at another moment, and the table may change in between, so the
cut points cannot be measured by each: two partitions with different cuts would read a row twice or not at all. The
first partition to start measures the column's min and max, and stores the cuts next to the run's landing, created
only if absent (a blob write that fails when the blob exists); a partition that finds them, or loses the race to
create them, uses the stored ones. A retried partition therefore reads the same range as its first try. The name
holds the count and column, so a run landed again under another split measures its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingestion.land.lake_api import LakeContainer
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)

KeyRange = tuple[int | None, int | None]  # the column's min and max (None for an empty table)


def agreed_cuts(
    plan: EntityPlan, run: RunInfo, storage: StageStorage, measure: Callable[[], KeyRange]
) -> tuple[int, ...]:
    """The run's cut points: stored ones, or `measure`d now and stored, unless another partition stored first."""
    from azure.core.exceptions import ResourceExistsError

    from ingestion.extract.sql_partition import range_cuts
    from ingestion.pipeline.landed_run import landing_paths

    partitions = plan.entity.load.partitions
    assert partitions is not None
    assert partitions.column is not None
    where = f"{plan.source}.{plan.entity.name}"
    lake = storage.landing(plan)
    name = landing_paths(plan, run).range_cuts(partitions.column, partitions.count)
    stored = _stored(lake, name)
    if stored is not None:
        return stored
    low, high = measure()
    cuts = range_cuts(low, high, partitions.count)
    record = {"run_id": run.run_id, "column": partitions.column, "cuts": list(cuts)}
    try:
        lake.blob(name).upload_blob(json.dumps(record).encode(), overwrite=False)
    except ResourceExistsError:
        stored = _stored(lake, name)  # another partition stored its cuts first: those are the run's
        assert stored is not None
        return stored
    log.info("%s: run %s reads %s in %d ranges, cut at %s", where, run.run_id, partitions.column, len(cuts) + 1, cuts)
    return cuts


def _stored(lake: LakeContainer, name: str) -> tuple[int, ...] | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return tuple(int(cut) for cut in json.loads(lake.get(name))["cuts"])
    except ResourceNotFoundError:
        return None
