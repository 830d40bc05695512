"""What every partition of a partitioned run (load.partitions) must read alike, decided once per run.

Each partition's task may start on another worker at another moment, and the table and the watermark may change in
between, so nothing that depends on the moment of reading can be worked out by each partition for itself:
- an incremental window: its high end is the source's max cursor at the read's start, and its low end the live
  watermark; partitions with different windows would move the watermark past rows one of them never read;
- the range cut points (load.partitions.ranges): two partitions with different cuts would read a row twice or not at
  all.

The first partition to start works them out and stores them next to the run's landing, created only if absent (a
blob write that fails when the blob exists); a partition that finds them, or loses the race to store them, uses the
stored ones. A retried partition therefore reads what its first try read. The cuts' name holds the count and column,
so a run landed again under another split measures its own; the window's holds the entity's latest watermark change
made by hand, so a run landed again after a `watermark set` decides a new one (see agreed_window).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingestion.json_types import JsonObject
    from ingestion.land.lake_api import LakeContainer
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.sources.base import SourceRead
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan
    from ingestion.state.store import ControlStore

log = logging.getLogger(__name__)

KeyRange = tuple[int | None, int | None]  # the column's min and max (None for an empty table)


def agreed_cuts(
    plan: EntityPlan, run: RunInfo, storage: StageStorage, measure: Callable[[], KeyRange]
) -> tuple[int, ...]:
    """The run's cut points: stored ones, or `measure`d now and stored, unless another partition stored first."""
    from ingestion.extract.sql_partition import range_cuts
    from ingestion.json_types import JsonReader
    from ingestion.pipeline.landed_run import landing_paths

    partitions = plan.entity.load.partitions
    assert partitions is not None
    assert partitions.column is not None

    def measured() -> JsonObject:
        low, high = measure()
        return {
            "run_id": run.run_id,
            "column": partitions.column,
            "cuts": list(range_cuts(low, high, partitions.count)),
        }

    name = landing_paths(plan, run).range_cuts(partitions.column, partitions.count)
    record, ours = _agreed(storage.landing(plan), name, measured)
    cuts = JsonReader(record, f"{plan.source}.{plan.entity.name}: {name}").integers("cuts")
    if ours:
        log.info(
            "%s.%s: run %s reads %s in %d ranges, cut at %s",
            plan.source,
            plan.entity.name,
            run.run_id,
            partitions.column,
            len(cuts) + 1,
            cuts,
        )
    return cuts


def agreed_window(
    plan: EntityPlan,
    run: RunInfo,
    storage: StageStorage,
    store: ControlStore,
    read: SourceRead,
    change_seen: int | None,
) -> tuple[SourceRead, int | None]:
    """The run's incremental window, the watermark it starts from and the latest watermark change seen before it
    (for publish's superseded check): this partition's `read` and `change_seen` if it is the first to store them,
    else the stored ones.

    A stored window stays the run's when runs commit after it was decided (the run is then superseded at publish,
    whatever window its partitions read), but not once the watermark is set by hand: an operator who sets it and
    clears the run's extract_land tasks expects the run to read from the new watermark, as a run read whole would.
    So the window is stored under the entity's latest change made by hand: partitions starting side by side find
    the same name whatever runs commit meanwhile, and every partition landing again after a manual change finds, or
    stores, the same new one."""
    from ingestion.extract.window import WindowBounds
    from ingestion.json_types import JsonReader
    from ingestion.pipeline.landed_run import landing_paths
    from ingestion.state import watermark_values

    window = read.window
    assert window is not None
    start = read.cursor.start

    def this_read() -> JsonObject:
        return {
            "run_id": run.run_id,
            "watermark": watermark_values.encode(start),
            "watermark_type": watermark_values.cursor_type(start if start is not None else ""),
            "window": WindowBounds.of(window).to_json(),
            "watermark_change_seen": change_seen,
        }

    where = f"{plan.source}.{plan.entity.name}"
    lake = storage.landing(plan)
    name = landing_paths(plan, run).agreed_window(store.latest_set_by_hand(plan.source, plan.entity.name))
    record, ours = _agreed(lake, name, this_read)
    if ours:
        log.info("%s: run %s reads the window %s in every partition", where, run.run_id, window.describe())
        return read, change_seen
    fields = JsonReader(record, f"{where}: {name}")
    agreed = WindowBounds.from_json(fields.child("window")).window()
    agreed_start = watermark_values.decode(fields.optional_text("watermark"), fields.text("watermark_type"))
    log.info(
        "%s: partition %s reads the run's window %s, fixed when its first partition started (on its own it would "
        "have read %s)",
        where,
        run.partition,
        agreed.describe(),
        window.describe(),
    )
    seen = fields.optional_integer("watermark_change_seen")
    return replace(read, window=agreed, cursor=replace(read.cursor, start=agreed_start)), seen


def _agreed(lake: LakeContainer, name: str, make: Callable[[], JsonObject]) -> tuple[JsonObject, bool]:
    """The record stored at `name`, or `make`'s stored there now unless another partition stored one first; and
    whether it is `make`'s (this partition decided)."""
    from azure.core.exceptions import ResourceExistsError

    stored = _stored(lake, name)
    if stored is not None:
        return stored, False
    record = make()
    try:
        lake.blob(name).upload_blob(json.dumps(record).encode(), overwrite=False)
    except ResourceExistsError:
        stored = _stored(lake, name)  # another partition stored first: its record is the run's
        assert stored is not None
        return stored, False
    return record, True


def _stored(lake: LakeContainer, name: str) -> JsonObject | None:
    from azure.core.exceptions import ResourceNotFoundError

    from ingestion.pipeline.errors import PartitionsDisagreeError

    try:
        record = json.loads(lake.get(name))
    except ResourceNotFoundError:
        return None
    except ValueError as error:
        record = error
    if not isinstance(record, dict):
        raise PartitionsDisagreeError(
            f"{lake.container}/{name} is not the JSON object its run's partitions stored: delete it and clear the "
            "run's extract_land tasks, so every partition lands again with what the first to start stores anew"
        )
    return record
