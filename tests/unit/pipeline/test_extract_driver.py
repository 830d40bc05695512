"""The extract_land driver's decisions, on an SQLite control store and a lake in memory: what it lands, what it
re-uses instead of reading, when it waits, and what it hands the next stage."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.land.paths import LandingPaths
from ingestion.pipeline.commit_stage import commit_run
from ingestion.pipeline.contracts import LandedRun, PublishedRun, ValidatedRun
from ingestion.pipeline.errors import PreviousRunNotCommittedError
from ingestion.pipeline.extract_driver import extract_land
from ingestion.pipeline.landed_run import landing_paths, read_run_manifest
from ingestion.pipeline.run_info import RunInfo
from ingestion.pipeline.storage import StageStorage
from ingestion.state.store import ControlStore, PublishRecord
from tests.unit.pipeline.conftest import T0, TableSource, orders_plan, rows, run_of
from tests.unit.pipeline.memory_lake import MemoryLakes

PLAN = orders_plan()


def _commit(landed: LandedRun, day: int, storage: StageStorage) -> None:
    published = PublishedRun(PLAN.topic, landed.rows, already_published=False)
    validated = ValidatedRun(rows=landed.rows, checks=(), warnings=0, seconds=0.0)
    commit_run(PLAN, run_of(day), landed=landed, validated=validated, published=published, storage=storage)


def _begin_publish(landed: LandedRun, day: int, store: ControlStore, rows: int | None = None) -> None:
    run = run_of(day)
    store.begin_publish(
        PublishRecord(
            source=PLAN.source,
            entity=PLAN.entity.name,
            run_id=run.run_id,
            landing_id=landed.landing_id,
            manifest=f"landing/{landed.manifest}",
            topic=PLAN.topic,
            moves_watermark=True,
            watermark_from=landed.watermark_from,
            watermark_to=landed.watermark_to,
            watermark_type=landed.watermark_type,
        )
    )
    if rows is not None:
        store.finish_publish(PLAN.source, PLAN.entity.name, run.run_id, rows)


def test_a_fresh_run_lands_its_batches_and_writes_the_manifest_last(storage: StageStorage, lakes: MemoryLakes) -> None:
    source = TableSource(PLAN, run_of(1), [rows(1, 2, 3), rows(4, 5, first_id=4)])
    landed = extract_land(PLAN, run_of(1), source=source, storage=storage)

    assert (landed.rows, landed.watermark_from, landed.watermark_to) == (
        5,
        None,
        (T0 + timedelta(minutes=5)).isoformat(),
    )
    assert (landed.already_committed, landed.frozen, source.read_batches) == (False, False, 2)
    landing = lakes.lake("landing")
    table = pa.concat_tables(pq.read_table(pa.BufferReader(landing.get(path))) for path in landed.files)
    assert sorted(table.column("order_id").to_pylist()) == [1, 2, 3, 4, 5]
    assert set(table.column("_ingest_run_id").to_pylist()) == {run_of(1).run_id}
    manifest = read_run_manifest(PLAN, run_of(1), landing)
    assert landed.manifest == landing_paths(PLAN, run_of(1)).manifest
    assert (manifest.landing_id, manifest.rows, manifest.facts) == (landed.landing_id, 5, landed.facts)
    assert json.loads(landing.get(landed.manifest))["extra"]["watermark_to"] == landed.watermark_to


def test_the_result_round_trips_through_xcom_as_plain_json(storage: StageStorage) -> None:
    landed = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2)]), storage=storage)
    xcom = json.loads(json.dumps(landed.to_xcom()))  # what Airflow stores and hands back
    assert LandedRun.from_xcom(xcom) == landed
    # The keys the UI, the tests and people read stay where they always were.
    assert {"manifest", "container", "files", "rows", "watermark_to", "left_out_at_boundary", "seconds"} <= set(xcom)
    assert "frozen" not in xcom
    assert "already_committed" not in xcom


def test_a_committed_run_keeps_its_landing_and_reads_nothing(storage: StageStorage) -> None:
    first = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    _commit(first, 1, storage)
    again = TableSource(PLAN, run_of(1), [rows(1, 2, 3, 4)])  # a row arrived since: re-reading would land it
    kept = extract_land(PLAN, run_of(1), source=again, storage=storage)

    assert (kept.already_committed, kept.landing_id, kept.rows) == (True, first.landing_id, 3)
    assert (again.prepared, again.read_batches) == (False, 0)
    assert LandedRun.from_xcom(json.loads(json.dumps(kept.to_xcom()))).already_committed


def test_a_run_whose_publish_began_is_frozen(storage: StageStorage, store: ControlStore) -> None:
    first = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    _begin_publish(first, 1, store)
    again = TableSource(PLAN, run_of(1), [rows(1, 2, 3, 4)])
    frozen = extract_land(PLAN, run_of(1), source=again, storage=storage)

    assert (frozen.frozen, frozen.landing_id, frozen.rows, frozen.window) == (True, first.landing_id, 3, first.window)
    assert not again.prepared


def test_a_run_behind_an_uncommitted_publish_waits_without_reading(storage: StageStorage, store: ControlStore) -> None:
    first = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    _begin_publish(first, 1, store, rows=3)  # published, never committed: the watermark is still where it began
    second = TableSource(PLAN, run_of(2), [rows(1, 2, 3, 4)])
    with pytest.raises(PreviousRunNotCommittedError, match=re.escape(f"run {run_of(1).run_id} published 3 row(s)")):
        extract_land(PLAN, run_of(2), source=second, storage=storage)
    assert not second.prepared
    _commit(first, 1, storage)  # once it commits, the next run goes on from its watermark
    assert extract_land(PLAN, run_of(2), source=second, storage=storage).watermark_from == first.watermark_to


def test_rows_tied_with_the_watermark_that_the_last_run_landed_are_left_out(
    storage: StageStorage, lakes: MemoryLakes
) -> None:
    first = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    _commit(first, 1, storage)
    # Order 3 is at the watermark (landed by run 1); order 9 was committed late at the same instant; 10 is new.
    table = [pa.concat_batches([rows(1, 2, 3), rows(3, first_id=9), rows(4, first_id=10)])]
    second = extract_land(PLAN, run_of(2), source=TableSource(PLAN, run_of(2), table), storage=storage)

    assert second.facts.left_out_at_boundary == 1
    landed = pa.concat_tables(pq.read_table(pa.BufferReader(lakes.lake("landing").get(p))) for p in second.files)
    assert sorted(landed.column("order_id").to_pylist()) == [9, 10]


def test_a_failed_read_leaves_no_manifest_and_no_part(storage: StageStorage, lakes: MemoryLakes) -> None:
    class Broken(TableSource):
        def batches(self):  # type: ignore[no-untyped-def]
            yield from super().batches()
            raise ConnectionError("the source went away")

    with pytest.raises(ConnectionError):
        extract_land(PLAN, run_of(1), source=Broken(PLAN, run_of(1), [rows(1, 2)]), storage=storage)
    paths: LandingPaths = landing_paths(PLAN, run_of(1))
    assert lakes.lake("landing").names(paths.run_prefix) == []


def test_a_commit_landing_while_publish_checks_a_run_never_lets_both_publish(
    storage: StageStorage, store: ControlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs 1 and 2 read the same window side by side; run 1 published, and its commit lands while run 2's publish
    is checking whether it may begin: run 2 must wait or be superseded, never go on to send the rows again."""
    from ingestion.pipeline.errors import RunSupersededError
    from ingestion.pipeline.publish_stage import publish_run

    first = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    second_run = _side_by_side()
    extract_land(PLAN, second_run, source=TableSource(PLAN, second_run, [rows(1, 2, 3)]), storage=storage)
    _begin_publish(first, 1, store, rows=3)
    checking = ControlStore.uncommitted_publishes

    def committing_meanwhile(self: ControlStore, *args: Any, **kwargs: Any) -> Any:
        if self.committed_run(PLAN.source, PLAN.entity.name, run_of(1).run_id) is None:
            _commit(first, 1, storage)  # lands between run 2's reads of the control database
        return checking(self, *args, **kwargs)

    monkeypatch.setattr(ControlStore, "uncommitted_publishes", committing_meanwhile)
    with pytest.raises(RunSupersededError, match=re.escape(f"run {run_of(1).run_id} committed after this run read")):
        publish_run(PLAN, second_run, storage=storage)
    assert store.publish_record(PLAN.source, PLAN.entity.name, second_run.run_id) is None


def test_a_run_that_committed_during_anothers_extract_keeps_its_boundary_keys(
    storage: StageStorage, store: ControlStore
) -> None:
    """Run 2 reads while run 1, which read the same window, commits: run 1 is now the watermark's run, and its keys
    at the watermark must outlive run 2's clean-up, or the next run sends those rows again."""
    from ingestion.state.boundary_keys import published_keys

    first = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    second_run = _side_by_side()

    class CommitsFirstWhileRead(TableSource):
        def batches(self) -> Any:
            _commit(first, 1, storage)
            yield from super().batches()

    extract_land(PLAN, second_run, source=CommitsFirstWhileRead(PLAN, second_run, [rows(1, 2, 3)]), storage=storage)
    mark = store.get_watermark(PLAN.source, PLAN.entity.name)
    assert mark is not None
    assert mark.run_id == run_of(1).run_id
    assert mark.value is not None
    assert published_keys(store.engine, PLAN.source, PLAN.entity.name, mark.run_id, mark.value) == {"[3]"}


def _side_by_side() -> RunInfo:
    """A manual run of the same day as run_of(1), started half an hour later (its files named after that)."""
    first = run_of(1)
    assert first.data_interval_end is not None
    later = first.data_interval_end + timedelta(minutes=30)
    return dataclasses.replace(
        first, run_id="manual__side_by_side", run_type="manual", data_interval_end=later, run_after=later
    )


def test_two_runs_checking_at_once_whether_they_may_publish_take_turns(
    storage: StageStorage, store: ControlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs 1 and 2 read the same window side by side, and their publish tasks check at the same moment (a
    partitioned entity's publish tasks of two runs run side by side): run 2 checks only once run 1 has recorded that
    it began, so it waits for run 1 instead of passing the same checks and sending the same rows."""
    import threading

    from ingestion.pipeline import publish_stage, run_guard

    extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    second_run = _side_by_side()
    extract_land(PLAN, second_run, source=TableSource(PLAN, second_run, [rows(1, 2, 3)]), storage=storage)
    first_between, first_go_on, second_checking = threading.Event(), threading.Event(), threading.Event()
    refuse_if_moved, refuse_behind = (
        publish_stage._refuse_if_watermark_moved,
        run_guard.refuse_behind_an_uncommitted_publish,
    )

    def first_pauses_after_its_checks(plan: Any, run: RunInfo, manifest: Any, store_: ControlStore) -> None:
        refuse_if_moved(plan, run, manifest, store_)
        if run.run_id == run_of(1).run_id:
            first_between.set()
            first_go_on.wait(30)

    def noting_the_second(plan: Any, run: RunInfo, store_: ControlStore) -> None:
        if run.run_id == second_run.run_id:
            second_checking.set()
        refuse_behind(plan, run, store_)

    monkeypatch.setattr(publish_stage, "_refuse_if_watermark_moved", first_pauses_after_its_checks)
    monkeypatch.setattr(run_guard, "refuse_behind_an_uncommitted_publish", noting_the_second)
    outcomes: dict[str, BaseException | None] = {}

    def begin(run: RunInfo) -> None:
        try:
            publish_stage._begin(PLAN, run, read_run_manifest(PLAN, run, storage.landing(PLAN)), store)
            outcomes[run.run_id] = None
        except BaseException as exc:  # noqa: BLE001 - the test reads it below
            outcomes[run.run_id] = exc

    first = threading.Thread(target=begin, args=(run_of(1),))
    first.start()
    assert first_between.wait(30)
    second = threading.Thread(target=begin, args=(second_run,))
    second.start()
    second_checking.wait(2)  # set only without the turn: run 2 then checks while run 1 is between checks and record
    first_go_on.set()
    first.join(30)
    second.join(30)

    assert outcomes[run_of(1).run_id] is None
    assert isinstance(outcomes[second_run.run_id], PreviousRunNotCommittedError)
    assert store.publish_record(PLAN.source, PLAN.entity.name, second_run.run_id) is None
