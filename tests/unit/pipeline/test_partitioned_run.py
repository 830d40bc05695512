"""A partitioned extract_land (load.partitions): each partition lands its own parts and manifest, validate assembles
the run's manifest from them, and a partition landed again touches only its own names."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from ingestion.land.landing_facts import LandingFacts, PartitionFacts
from ingestion.pipeline.errors import ManifestMissingError, PartitionsDisagreeError, PublishLayoutError
from ingestion.pipeline.extract_driver import extract_land
from ingestion.pipeline.landed_run import read_run_manifest
from ingestion.pipeline.run_info import RunInfo
from ingestion.pipeline.sources.base import SourceBatch, SourceRead
from ingestion.pipeline.storage import StageStorage
from ingestion.pipeline.validate_stage import validate_run
from ingestion.planner import EntityPlan
from ingestion.state.store import ControlStore
from tests.unit.pipeline.conftest import TableSource, orders_plan, rows, run_of
from tests.unit.pipeline.memory_lake import MemoryLakes

COUNT = 3


def partitioned_plan(count: int = COUNT, *, sensitive: bool = False) -> EntityPlan:
    """The orders entity, a full load in `count` partitions of order_id; `sensitive`: updated_at is raw PII."""
    return orders_plan(
        load={"mode": "full", "partitions": {"count": count, "column": "order_id"}},
        updated_at={"pii": True, "pii_strategy": "sensitive"} if sensitive else None,
    )


PLAN = partitioned_plan()
TABLE = [rows(*range(10)), rows(*range(7), first_id=11)]  # ids 1..10 and 11..17


class ShareSource(TableSource):
    """The whole table, each run's partition reading the rows whose order_id modulo the count is its own."""

    def prepare(self, store: ControlStore) -> SourceRead:
        from ingestion.extract.cursor import Cursor

        cursor = Cursor.for_rows(self.plan.entity.load, None, full_refresh=False, where=self.where)
        self._read = SourceRead(cursor, cursor.full_window(), tuple(self.plan.entity.columns))
        return self._read

    def batches(self) -> Generator[SourceBatch, None, None]:
        partitions = self.plan.entity.load.partitions
        assert partitions is not None
        assert self.run.partition is not None
        for batch in self.table:
            ids = batch.column("order_id").to_pylist()
            yield SourceBatch(batch.filter(pa.array([i % partitions.count == self.run.partition for i in ids])))

    def new_watermark(self, highest_landed: object) -> None:
        return None

    def facts(self, new_watermark: Any, *, left_out: int) -> LandingFacts:
        # As SqlSource says it: the share of the split this task read.
        partitions = self.plan.entity.load.partitions
        assert partitions is not None
        share = PartitionFacts(count=partitions.count, key=partitions.column or "", partition=self.run.partition)
        return dataclasses.replace(super().facts(new_watermark, left_out=left_out), partitioning=share)


def land_partitions(storage: StageStorage, run: RunInfo, *, plan: EntityPlan = PLAN) -> None:
    partitions = plan.entity.load.partitions
    assert partitions is not None
    for k in range(partitions.count):
        part = run.in_partition(k)
        extract_land(plan, part, source=ShareSource(plan, part, TABLE), storage=storage)


def landing(lakes: MemoryLakes) -> dict[str, bytes]:
    return lakes.blobs["landing"]


def test_each_partition_lands_its_own_names_and_validate_assembles_one_run(
    storage: StageStorage, lakes: MemoryLakes
) -> None:
    run = run_of(1)
    land_partitions(storage, run)
    names = sorted(landing(lakes))
    assert [n.rsplit("_", 1)[1] for n in names] == [
        "p00-0000.parquet",
        "p00-manifest.json",
        "p01-0000.parquet",
        "p01-manifest.json",
        "p02-0000.parquet",
        "p02-manifest.json",
    ]

    validated = validate_run(PLAN, run, storage=storage)

    manifest = read_run_manifest(PLAN, run, storage.landing(PLAN))
    assert (manifest.rows, validated.rows) == (17, 17)
    assert [f.path.rsplit("_", 1)[1] for f in manifest.files] == [
        "p00-0000.parquet",
        "p01-0000.parquet",
        "p02-0000.parquet",
    ]
    assert [f.rows for f in manifest.files] == [5, 6, 6]  # ids 3,6,9,12,15 / 1,4,..,16 / 2,5,..,17
    assert next(c for c in validated.checks if c.name == "landed_structure").passed


def test_assembling_the_same_partitions_again_keeps_the_landing_and_a_relanded_partition_makes_a_new_one(
    storage: StageStorage, lakes: MemoryLakes
) -> None:
    run = run_of(1)
    land_partitions(storage, run)
    validate_run(PLAN, run, storage=storage)
    first = read_run_manifest(PLAN, run, storage.landing(PLAN))
    validate_run(PLAN, run, storage=storage)  # a retried validate
    assert read_run_manifest(PLAN, run, storage.landing(PLAN)).landing_id == first.landing_id

    others = {n: b for n, b in landing(lakes).items() if "_p01-" not in n and not n.endswith("_manifest.json")}
    again = run.in_partition(1)
    extract_land(PLAN, again, source=ShareSource(PLAN, again, TABLE), storage=storage)
    # The retried partition took the run's manifest down (it listed parts about to change), left the others alone.
    assert not [n for n in landing(lakes) if n.endswith("_manifest.json")]
    assert {n: b for n, b in landing(lakes).items() if n in others} == others

    validate_run(PLAN, run, storage=storage)
    second = read_run_manifest(PLAN, run, storage.landing(PLAN))
    assert second.rows == 17
    assert second.landing_id != first.landing_id


def test_validate_names_the_partition_that_has_not_landed(storage: StageStorage) -> None:
    run = run_of(1)
    for k in (0, 2):
        part = run.in_partition(k)
        extract_land(PLAN, part, source=ShareSource(PLAN, part, TABLE), storage=storage)

    with pytest.raises(ManifestMissingError, match=r"partition 1 of run .* has no manifest"):
        validate_run(PLAN, run, storage=storage)


def test_partitions_that_read_different_columns_are_refused(storage: StageStorage, lakes: MemoryLakes) -> None:
    import dataclasses

    from ingestion.land.parquet_lander import LandingManifest

    run = run_of(1)
    land_partitions(storage, run)
    name = next(n for n in landing(lakes) if n.endswith("_p02-manifest.json"))
    manifest = LandingManifest.from_json(landing(lakes)[name].decode())
    landing(lakes)[name] = dataclasses.replace(manifest, schema_fingerprint="another").to_json().encode()

    with pytest.raises(PartitionsDisagreeError, match="partition 2 landed another schema than partition 0"):
        validate_run(PLAN, run, storage=storage)


def test_a_committed_runs_publish_groups_carry_its_count_once(storage: StageStorage) -> None:
    from ingestion.pipeline.commit_stage import commit_run
    from ingestion.pipeline.contracts import PublishedRun
    from ingestion.pipeline.landed_run import landed_result
    from ingestion.pipeline.publish_stage import publish_run

    run = run_of(1)
    land_partitions(storage, run)
    validated = validate_run(PLAN, run, storage=storage)
    landed = landed_result(PLAN, run, read_run_manifest(PLAN, run, storage.landing(PLAN)), seconds=1.0)
    published = PublishedRun(PLAN.topic, 17, already_published=False)
    commit_run(PLAN, run, landed=landed, validated=validated, published=published, storage=storage)

    # A cleared publish of the committed run asks nothing of Kafka; the groups' counts still add up to the run's.
    again = [publish_run(PLAN, run.in_partition(k), storage=storage) for k in range(COUNT)]
    assert [(g.rows, g.already_published) for g in again] == [(17, True), (0, True), (0, True)]


def test_the_sensitive_zone_gets_the_runs_manifest_too(storage: StageStorage, lakes: MemoryLakes) -> None:
    from ingestion.land.parquet_lander import LandingManifest

    plan = partitioned_plan(sensitive=True)
    run = run_of(1)
    land_partitions(storage, run, plan=plan)
    validate_run(plan, run, storage=storage)

    facts = read_run_manifest(plan, run, storage.landing(plan)).facts
    sensitive = lakes.blobs["sensitive"]
    assert facts.sensitive_manifest is not None
    container, _, path = facts.sensitive_manifest.partition("/")
    manifest = LandingManifest.from_json(sensitive[path].decode())
    assert (container, manifest.rows, manifest.run_id) == ("sensitive", 17, run.run_id)
    assert facts.sensitive_files == tuple(f.path for f in manifest.files)
    assert sorted(f.rsplit("_", 1)[1] for f in facts.sensitive_files or ()) == [
        "p00-0000.parquet",
        "p01-0000.parquet",
        "p02-0000.parquet",
    ]


def test_partitions_landed_under_another_count_are_refused(storage: StageStorage) -> None:
    run = run_of(1)
    land_partitions(storage, run, plan=partitioned_plan(count=2))  # the config said 2 when these landed

    with pytest.raises(PartitionsDisagreeError, match="partition 0's manifest was landed as partition 0 of 2"):
        validate_run(PLAN, run, storage=storage)  # and 3 now


def test_the_run_manifest_records_the_split_and_publish_follows_it(storage: StageStorage) -> None:
    from ingestion.pipeline.publish_stage import publish_run

    run = run_of(1)
    land_partitions(storage, run)
    validate_run(PLAN, run, storage=storage)
    manifest = read_run_manifest(PLAN, run, storage.landing(PLAN))
    per_partition = [sum(f"_p{k:02d}-" in f.path for f in manifest.files) for k in range(COUNT)]
    assert manifest.facts.partitioning == PartitionFacts(count=COUNT, key="order_id", files=tuple(per_partition))

    # The config changed after the run landed: its publish tasks no longer match it, and nothing is sent.
    load = PLAN.entity.load.model_copy(update={"partitions": None})
    whole = dataclasses.replace(PLAN, entity=PLAN.entity.model_copy(update={"load": load}))
    with pytest.raises(
        PublishLayoutError, match=r"landed in 3 partitions, but load\.partitions now publishes it in one"
    ):
        publish_run(whole, run, storage=storage)
    with pytest.raises(PublishLayoutError, match="now publishes it in 2 tasks"):
        publish_run(partitioned_plan(count=2), run.in_partition(0), storage=storage)


def test_each_publish_task_publishes_the_files_its_partition_landed(storage: StageStorage) -> None:
    from ingestion.pipeline.publish_stage import publish_target, share_of

    run = run_of(1)
    land_partitions(storage, run)
    validate_run(PLAN, run, storage=storage)
    manifest = read_run_manifest(PLAN, run, storage.landing(PLAN))

    shares = []
    for k in range(COUNT):
        target = publish_target(PLAN, run.in_partition(k), manifest)
        share = share_of(manifest, target.split)
        assert share.files
        assert all(f"_p{k:02d}-" in f.path for f in share.files)
        assert target.expected_rows == share.rows == len([i for i in range(1, 18) if i % COUNT == k])
        shares.append(share)
    assert [f for share in shares for f in share.files] == manifest.files
    assert sum(share.bytes for share in shares) == manifest.bytes


def test_a_run_assembled_by_the_version_that_placed_rows_by_key_is_not_published(storage: StageStorage) -> None:
    """Publish tasks of that version each published the rows whose key placed them in their own topic partitions;
    a task of this one would publish other rows than they may have already."""
    from ingestion.pipeline.publish_stage import publish_run

    run = run_of(1)
    land_partitions(storage, run)
    validate_run(PLAN, run, storage=storage)
    from ingestion.pipeline.landed_run import landing_paths

    lake = storage.landing(PLAN)
    path = landing_paths(PLAN, run).manifest
    # As that version wrote it: the topic partitions its rows were placed by, no file counts.
    written = json.loads(lake.get(path))
    layout = written["extra"]["partitioning"]
    del layout["files"]
    layout["topic_partitions"] = 3
    lake.put(path, json.dumps(written).encode())
    assert read_run_manifest(PLAN, run, lake).facts.partitioning == PartitionFacts(count=COUNT, key="order_id")

    with pytest.raises(PublishLayoutError, match="assembled by an earlier version of the platform"):
        publish_run(PLAN, run.in_partition(0), storage=storage)


def test_commit_of_a_committed_run_with_one_publish_task_cleared_changes_nothing(storage: StageStorage) -> None:
    from ingestion.pipeline.commit_stage import commit_run
    from ingestion.pipeline.contracts import PublishedRun
    from ingestion.pipeline.errors import CountMismatchError
    from ingestion.pipeline.landed_run import landed_result

    run = run_of(1)
    land_partitions(storage, run)
    validated = validate_run(PLAN, run, storage=storage)
    landed = landed_result(PLAN, run, read_run_manifest(PLAN, run, storage.landing(PLAN)), seconds=1.0)

    def commit(rows: int, already: bool) -> str:
        published = PublishedRun(PLAN.topic, rows, already_published=already)
        return commit_run(PLAN, run, landed=landed, validated=validated, published=published, storage=storage).outcome

    # Every task found its share in its publish log, but the shares do not add up: refused all the same.
    with pytest.raises(CountMismatchError, match="publish tasks' counts do not add up"):
        commit(11, already=True)
    assert commit(17, already=False) == "committed"
    # Task 2 cleared after the commit reports 0 beside the others' earlier 5 and 6: the run stays as committed.
    assert commit(11, already=False) != "committed"


RANGES_PLAN = orders_plan(load={"mode": "full", "partitions": {"count": COUNT, "column": "order_id", "ranges": True}})


class RangeSource(ShareSource):
    """Each partition reading its range of order_id between the run's cuts; `key_range` measures `measured`, and
    another min and max after each call, as a table written to between the partitions' starts would."""

    def __init__(self, plan: EntityPlan, run: RunInfo, table: list[pa.RecordBatch], measured: list[int]) -> None:
        super().__init__(plan, run, table)
        self.measured = measured
        self.cuts: tuple[int, ...] | None = None

    def key_range(self) -> tuple[int | None, int | None]:
        low, high = 1, 17 * (1 + len(self.measured))
        self.measured.append(high)
        return low, high

    def read_range(self, cuts: tuple[int, ...]) -> None:
        self.cuts = cuts

    def batches(self) -> Generator[SourceBatch, None, None]:
        assert self.cuts is not None
        assert self.run.partition is not None
        bounds = [None, *self.cuts, None]
        low, high = bounds[self.run.partition], bounds[self.run.partition + 1]
        for batch in self.table:
            ids = batch.column("order_id").to_pylist()
            mine = [(low is None or i >= low) and (high is None or i < high) for i in ids]
            yield SourceBatch(batch.filter(pa.array(mine)))

    def facts(self, new_watermark: Any, *, left_out: int) -> LandingFacts:
        facts = super().facts(new_watermark, left_out=left_out)
        assert facts.partitioning is not None
        return dataclasses.replace(facts, partitioning=dataclasses.replace(facts.partitioning, cuts=self.cuts))


def land_ranges(storage: StageStorage, run: RunInfo, measured: list[int], partitions: range = range(COUNT)) -> None:
    for k in partitions:
        part = run.in_partition(k)
        extract_land(RANGES_PLAN, part, source=RangeSource(RANGES_PLAN, part, TABLE, measured), storage=storage)


def test_partitions_in_ranges_use_the_cuts_the_first_one_measured_and_stored(
    storage: StageStorage, lakes: MemoryLakes
) -> None:
    run, measured = run_of(1), []
    land_ranges(storage, run, measured)

    assert measured == [17]  # measured once, by partition 0: 1..17 cut at 6 and 12
    stored = [n for n in landing(lakes) if "ranges" in n]
    assert len(stored) == 1
    assert stored[0].endswith("_ranges-order_id-n3.json")
    validate_run(RANGES_PLAN, run, storage=storage)
    manifest = read_run_manifest(RANGES_PLAN, run, storage.landing(RANGES_PLAN))
    assert [f.rows for f in manifest.files] == [5, 6, 6]  # ids 1..5 / 6..11 / 12..17
    assert manifest.facts.partitioning is not None
    assert manifest.facts.partitioning.cuts == (6, 12)

    # A retried partition reads the same range, though the table's min and max have changed.
    land_ranges(storage, run, measured, partitions=range(1, 2))
    assert measured == [17]
    validate_run(RANGES_PLAN, run, storage=storage)


def test_partitions_landed_with_other_cuts_are_refused(storage: StageStorage, lakes: MemoryLakes) -> None:
    run, measured = run_of(1), []
    land_ranges(storage, run, measured)
    # The stored cuts deleted by hand: partition 1, landed again, measures its own.
    del landing(lakes)[next(n for n in landing(lakes) if "ranges" in n)]
    land_ranges(storage, run, measured, partitions=range(1, 2))
    assert measured == [17, 34]

    with pytest.raises(PartitionsDisagreeError, match="partition 1 landed another range cuts than partition 0"):
        validate_run(RANGES_PLAN, run, storage=storage)


INCREMENTAL_PLAN = orders_plan(
    load={"mode": "incremental", "cursor_column": "updated_at", "partitions": {"count": 2, "column": "order_id"}}
)


class IncrementalShareSource(TableSource):
    """TableSource's incremental window (from the watermark to the table's newest row when prepared), each partition
    reading the rows of it whose order_id modulo 2 is its own."""

    def batches(self) -> Generator[SourceBatch, None, None]:
        for part in super().batches():
            ids = part.batch.column("order_id").to_pylist()
            yield SourceBatch(part.batch.filter(pa.array([i % 2 == self.run.partition for i in ids], pa.bool_())))

    def facts(self, new_watermark: Any, *, left_out: int) -> LandingFacts:
        share = PartitionFacts(count=2, key="order_id", partition=self.run.partition)
        return dataclasses.replace(super().facts(new_watermark, left_out=left_out), partitioning=share)


def land_incremental(storage: StageStorage, run: RunInfo, partition: int, table: list[pa.RecordBatch]) -> None:
    part = run.in_partition(partition)
    extract_land(INCREMENTAL_PLAN, part, source=IncrementalShareSource(INCREMENTAL_PLAN, part, table), storage=storage)


def landed_ids(plan: EntityPlan, run: RunInfo, storage: StageStorage) -> list[list[int]]:
    import pyarrow.parquet as pq

    lake = storage.landing(plan)
    return [
        pq.read_table(pa.BufferReader(lake.get(f.path))).column("order_id").to_pylist()
        for f in read_run_manifest(plan, run, lake).files
    ]


def test_partitions_of_an_incremental_run_read_the_window_the_first_one_fixed(
    storage: StageStorage, store: ControlStore, lakes: MemoryLakes, caplog: pytest.LogCaptureFixture
) -> None:
    """Partition 1 starts after rows were added to the table: it still reads the window partition 0 fixed, each
    partition records its own share of the keys tied at the new watermark, and the next run leaves out exactly
    those and reads the rest, so no row is lost or landed twice across the runs."""
    from ingestion.pipeline.commit_stage import commit_run
    from ingestion.pipeline.contracts import PublishedRun
    from ingestion.pipeline.landed_run import landed_result
    from ingestion.state.boundary_keys import published_keys

    caplog.set_level("INFO", logger="ingestion.pipeline.partition_agreement")
    plan, run = INCREMENTAL_PLAN, run_of(1)
    land_incremental(storage, run, 0, [rows(1, 2, 3)])  # ids 1, 2, 3 at minutes 1, 2, 3: the window ends at 3
    # Then id 4 is committed late at minute 3 (share 0, whose partition has read), and id 5 at minute 5 (share 1).
    grown = [rows(1, 2, 3), rows(3, 5, first_id=4)]
    land_incremental(storage, run, 1, grown)

    assert "reads the run's window" in caplog.text
    assert [n for n in landing(lakes) if "_window-m0.json" in n], "the run's window is stored beside its landing"
    validated = validate_run(plan, run, storage=storage)
    assert landed_ids(plan, run, storage) == [[2], [1, 3]]  # not 5: above the run's window
    manifest = read_run_manifest(plan, run, storage.landing(plan))
    assert manifest.facts.watermark_to is not None
    assert manifest.facts.watermark_to.startswith("2026-11-01T00:03:00")
    keys = published_keys(store.engine, plan.source, plan.entity.name, run.run_id, manifest.facts.watermark_to)
    assert keys == {"[3]"}

    # Partition 0 retried: the same window, now with id 4 in it; it records its share of the keys at minute 3 (id 4)
    # and leaves partition 1's alone.
    land_incremental(storage, run, 0, grown)
    assert published_keys(store.engine, plan.source, plan.entity.name, run.run_id, manifest.facts.watermark_to) == {
        "[3]",
        "[4]",
    }
    validated = validate_run(plan, run, storage=storage)
    assert landed_ids(plan, run, storage) == [[2, 4], [1, 3]]
    landed = landed_result(plan, run, read_run_manifest(plan, run, storage.landing(plan)), seconds=1.0)
    published = PublishedRun(plan.topic, landed.rows, already_published=False)
    commit_run(plan, run, landed=landed, validated=validated, published=published, storage=storage)

    # The next run starts at minute 3 inclusively: ids 3 and 4 are left out (each by its partition), 5 is read.
    second = run_of(2)
    for k in range(2):
        land_incremental(storage, second, k, grown)
    validate_run(plan, second, storage=storage)
    assert landed_ids(plan, second, storage) == [[5]]  # partition 0 landed no part
    assert read_run_manifest(plan, second, storage.landing(plan)).facts.left_out_at_boundary == 2


def test_partitions_landed_again_after_a_watermark_set_by_hand_read_from_the_new_watermark(
    storage: StageStorage, store: ControlStore
) -> None:
    """Runs committing meanwhile leave a run's window as its first partition fixed it, but a watermark set by hand
    does not: clearing the run's extract_land tasks then lands it from the new watermark, as a run read whole."""
    plan, run = INCREMENTAL_PLAN, run_of(1)
    table = [rows(1, 2, 3, 4)]
    for k in range(2):
        land_incremental(storage, run, k, table)
    validate_run(plan, run, storage=storage)
    assert landed_ids(plan, run, storage) == [[2, 4], [1, 3]]

    store.set_watermark(plan.source, plan.entity.name, "2026-11-01T00:02:00+00:00", reason="skip", changed_by="cli:op")
    for k in range(2):
        land_incremental(storage, run, k, table)
    validate_run(plan, run, storage=storage)
    # From minute 2 on, inclusively (a watermark set by hand has no keys to leave out): order 1 is no longer read.
    assert landed_ids(plan, run, storage) == [[2, 4], [3]]


def test_a_run_committing_between_two_partitions_starts_leaves_the_window_and_the_run_is_superseded(
    storage: StageStorage,
) -> None:
    """Runs 1 and 2 read from the same watermark side by side, and run 1 commits after run 2's partition 0 fixed the
    window but before its partition 1 starts. Partition 1 still reads that window, so validate accepts run 2 as one
    run, and its publish skips it as superseded: run 1 committed the rows both read, and the next run reads on."""
    from ingestion.pipeline.commit_stage import commit_run
    from ingestion.pipeline.contracts import PublishedRun
    from ingestion.pipeline.errors import RunSupersededError
    from ingestion.pipeline.landed_run import landed_result
    from ingestion.pipeline.publish_stage import publish_run

    plan, first = INCREMENTAL_PLAN, run_of(1)
    assert first.data_interval_end is not None
    later = first.data_interval_end + timedelta(minutes=30)
    second = dataclasses.replace(
        first, run_id="manual__beside", run_type="manual", data_interval_end=later, run_after=later
    )
    table = [rows(1, 2, 3)]
    land_incremental(storage, first, 0, table)
    land_incremental(storage, second, 0, table)
    land_incremental(storage, first, 1, table)
    validated = validate_run(plan, first, storage=storage)
    landed = landed_result(plan, first, read_run_manifest(plan, first, storage.landing(plan)), seconds=1.0)
    published = PublishedRun(plan.topic, landed.rows, already_published=False)
    commit_run(plan, first, landed=landed, validated=validated, published=published, storage=storage)

    land_incremental(storage, second, 1, [rows(1, 2, 3), rows(5, first_id=4)])
    validate_run(plan, second, storage=storage)
    assert landed_ids(plan, second, storage) == [[2], [1, 3]]  # the window fixed before run 1 committed
    with pytest.raises(RunSupersededError, match=re.escape(f"run {first.run_id} committed after this run read")):
        publish_run(plan, second.in_partition(0), storage=storage)
