"""Rows tied with the watermark: read again, and left out when the run that set the watermark already landed them.

An incremental window reads its low end inclusively (extract/window.py), because rows may be committed after a run
with a cursor equal to the high mark it moved the watermark to: an exclusive low end lost them, unseen by every
check. Reading the value again would send the rows that run landed a second time, so, as dlt's incremental does
with the hashes of the rows at its last value, each run remembers the keys of the rows it landed at its new high
value (state/boundary_keys.py, under its run id), and the next run leaves those rows out by primary key:

- the set used is that of the run the live watermark names, and only while the watermark holds that run's value;
  after a manual `watermark set` there is none, so the rows at exactly that value are read again (sent twice,
  never lost);
- keys are compared as landed in the general zone (a PII key column can only be hashed): no raw value is stored;
- rows left out are counted (`left_out_at_boundary`), so reconciliation balances: counted = landed + left out;
- a run whose watermark does not move (nothing newer) carries the set forward under its own run id, with the tied
  rows it landed added;
- a partitioned run (load.partitions) reads one window in every partition (pipeline/partition_agreement.py): each
  partition leaves out the tied rows of its share and records the keys it lands at the high value as its share of
  the run's set;
- windows from a lookback re-send what they re-read: nothing is left out there (at-least-once, as configured);
- entities without a primary key read the watermark's value inclusively and re-send its rows (nothing to tell a
  published row from a new one by); so are rows whose key holds a null (a view's key columns may).

Memory: one set in memory, the keys at the watermark the run starts from (as many as rows share that one cursor
value). A SQL run knows its high value before reading and streams the keys it lands there to the control database
batch by batch; a REST run learns its high value only at the end and holds a second set, of the rows at the
highest value seen so far.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ingestion.extract.window import Window, leaves_out_published_ties
from ingestion.state import watermark_values

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.config.models import Column
    from ingestion.pii.keys import PiiKeys
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)


class BoundaryTies:
    """One run's tie handling. `leave_out` each batch read, `note` each batch landed, then `finish` with the watermark
    the run moves to (or `close` on failure)."""

    def __init__(
        self,
        plan: EntityPlan,
        run: RunInfo,
        pii_keys: PiiKeys,
        columns: Sequence[Column],
        *,
        window: Window,
        watermark: Any,
        storage: StageStorage,
    ) -> None:
        from ingestion.pipeline.masked_landing import pii_masker
        from ingestion.state.boundary_keys import forget_run, published_keys

        entity = plan.entity
        assert entity.load.cursor_column is not None
        self.where = f"{plan.source}.{entity.name}"
        self.ids = (plan.source, entity.name, run.run_id)
        # A partition of a partitioned run records its share of the run's set, and drops only its own on a retry.
        self.part = run.partition
        self.cursor = entity.load.cursor_column
        self.primary_key = list(entity.primary_key)
        by_name = {c.name: c for c in columns}
        self.masker = pii_masker(plan, pii_keys, [by_name[k] for k in self.primary_key])
        self.window = window
        self.watermark = watermark
        self.excluding = leaves_out_published_ties(window, watermark)
        self.streaming = window.high is not None  # SQL: the high value is known before the read
        self.target: Any = window.high  # the value whose landed rows are remembered
        self.pending: set[str] = set()  # REST: the keys at the highest value seen so far
        self.left_out = 0
        self._stack = contextlib.ExitStack()
        self.store = self._stack.enter_context(storage.control_store())
        mark = self.store.get_watermark(plan.source, entity.name)
        self.live_run = mark.run_id if mark is not None else None
        self.published: set[str] = set()
        # Only the set of the run the live watermark names, while it still holds the value this window starts at.
        if (
            watermark is not None
            and mark is not None
            and mark.run_id
            and mark.value is not None
            and watermark_values.decode(mark.value, mark.value_type) == watermark
        ):
            self.published = published_keys(self.store.engine, plan.source, entity.name, mark.run_id, _text(watermark))
        if self.excluding:
            log.info(
                "%s: rows at the watermark %s are read again; %d of them, landed by run %s, are left out",
                self.where,
                watermark_values.encode(watermark),
                len(self.published),
                self.live_run,
            )
        forget_run(self.store.engine, *self.ids, part=self.part)

    def leave_out(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch without the rows at the watermark that the run which set it landed."""
        from ingestion.extract.tie_keys import count_true, rows_at, without

        if not self.excluding or not self.published or not batch.num_rows:
            return batch
        at_low = rows_at(batch, self.cursor, self.watermark, self.window.cursor_zone)
        if not count_true(at_low):
            return batch
        flags = [key is not None and key in self.published for key in self._keys(batch.filter(at_low))]
        kept = without(batch, at_low, flags)
        self.left_out += batch.num_rows - kept.num_rows
        return kept

    def note(self, batch: pa.RecordBatch) -> None:
        """Remember the keys of the landed rows at the run's high value."""
        import pyarrow.compute as pc

        from ingestion.extract.tie_keys import count_true, rows_at
        from ingestion.state.boundary_keys import record_keys

        if not batch.num_rows:
            return
        if not self.streaming:
            top = pc.max(batch.column(self.cursor)).as_py()
            if top is None or (self.target is not None and top < self.target):
                return
            if self.target is None or top > self.target:
                self.target, self.pending = top, set()
        at_high = rows_at(batch, self.cursor, self.target, self.window.cursor_zone)
        if not count_true(at_high):
            return
        known = self.published if self.target == self.watermark else set()
        # A key with a null is not remembered: the row is read and sent again by the next run (never lost).
        keys = [key for key in self._keys(batch.filter(at_high)) if key is not None and key not in known]
        if self.streaming:
            record_keys(self.store.engine, *self.ids, _text(self.target), keys, part=self.part)
        else:
            self.pending.update(keys)

    def finish(self, new_watermark: Any) -> None:
        """Record the run's set at `new_watermark` (the value commit will move the watermark to) and drop the sets no
        run can use any more."""
        from ingestion.state.boundary_keys import drop_spent_sets, forget_run, record_keys

        try:
            engine = self.store.engine
            value = watermark_values.encode(new_watermark) if new_watermark is not None else None
            if self.streaming and (value is None or new_watermark != self.target):
                forget_run(engine, *self.ids, part=self.part)  # streamed for a value the watermark does not take
            if value is not None and not self.streaming and new_watermark == self.target:
                record_keys(engine, *self.ids, value, self.pending, part=self.part)
            if value is not None and new_watermark == self.watermark and not self.part:
                # The set goes on with the watermark; in a partitioned run, carried by partition 0 alone (every
                # partition read the whole set, not knowing which keys are its share).
                record_keys(engine, *self.ids, value, self.published, part=self.part)
            keep = {self.ids[2], *([self.live_run] if self.live_run else [])}
            drop_spent_sets(engine, self.ids[0], self.ids[1], keep=keep)
        finally:
            self.close()

    def close(self) -> None:
        self._stack.close()

    def _keys(self, rows: pa.RecordBatch) -> list[str | None]:
        from ingestion.extract.tie_keys import key_texts

        return key_texts(self.masker.general(rows.select(self.primary_key)))


def _text(value: Any) -> str:
    """A cursor value as the watermark stores it (never None here)."""
    text = watermark_values.encode(value)
    assert text is not None
    return text


def boundary_ties(
    plan: EntityPlan,
    run: RunInfo,
    pii_keys: PiiKeys,
    columns: Sequence[Column],
    *,
    window: Window,
    watermark: Any,
    storage: StageStorage,
) -> BoundaryTies | None:
    """The run's tie handling, or None where there is none: not incremental, or no primary key to tell rows by."""
    entity = plan.entity
    if window.mode != "incremental" or entity.load.cursor_column is None:
        return None
    if not entity.primary_key:
        if window.low_inclusive and window.low == watermark and watermark is not None:
            log.info("%s: no primary key: the rows at the watermark's value are read and sent again", entity.name)
        return None
    return BoundaryTies(plan, run, pii_keys, columns, window=window, watermark=watermark, storage=storage)
