"""Landing to Azurite through WasbHook: parts, types kept exactly, no partial file visible, manifest last,
idempotent re-runs of the same run."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.land.lake import Lake
from ingestion.land.parquet_lander import ParquetLander, read_manifest, schema_fingerprint
from ingestion.land.paths import LandingPaths

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("amount", pa.decimal128(12, 2)),
        pa.field("active", pa.bool_()),
        pa.field("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
STAMP = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def _batch(start: int, rows: int) -> pa.RecordBatch:
    ids = list(range(start, start + rows))
    return pa.RecordBatch.from_pydict(
        {
            "id": ids,
            "name": [None if i % 7 == 0 else f"Björn 東京 💡 {i}" for i in ids],
            "amount": [None if i % 5 == 0 else Decimal(f"{i}.{i % 100:02d}") for i in ids],
            "active": [i % 2 == 0 for i in ids],
            "updated_at": [datetime(2026, 11, 1, 12, 0, i % 60, i, tzinfo=UTC) for i in ids],
        },
        schema=SCHEMA,
    )


@pytest.fixture
def lake() -> Lake:
    lake = Lake.from_conn_id("lake_wasb", "landing")
    lake.ensure_container()
    return lake


@pytest.fixture
def paths() -> LandingPaths:
    return LandingPaths("landing", f"t{uuid.uuid4().hex[:8]}", "orders", STAMP)


def _read_all(lake: Lake, names: list[str]) -> pa.Table:
    return pa.concat_tables(pq.read_table(io.BytesIO(lake.get(name))) for name in names)


def test_parts_types_lineage_and_manifest(lake: Lake, paths: LandingPaths) -> None:
    lander = ParquetLander(lake, paths, SCHEMA, run_id="scheduled__2026-11-02", max_rows_per_part=1000)
    for start in range(0, 2500, 300):
        lander.write(_batch(start, min(300, 2500 - start)))
    manifest = lander.finish(window="(a, b]")

    assert [f.path for f in manifest.files] == [paths.part(0), paths.part(1), paths.part(2)]
    assert [f.rows for f in manifest.files] == [1000, 1000, 500]
    assert manifest.rows == 2500
    assert paths.part(0) == f"{paths.source}/orders/date=2026-11-02/{paths.source}_orders_20261102000000_0000.parquet"
    assert read_manifest(lake, paths) == manifest
    assert lake.names(paths.prefix) == sorted([*(f.path for f in manifest.files), paths.manifest])

    table = _read_all(lake, [f.path for f in manifest.files])
    data = table.select(SCHEMA.names)
    assert data.schema == SCHEMA  # decimal(12,2), UTC timestamps, nullability: exactly as given
    assert data.to_pylist() == pa.Table.from_batches([_batch(0, 2500)]).to_pylist()  # NULLs, unicode, booleans
    assert set(table.column("_ingest_run_id").to_pylist()) == {"scheduled__2026-11-02"}
    assert set(table.column("_ingest_source").to_pylist()) == {paths.source}
    assert set(table.column("_ingest_entity").to_pylist()) == {"orders"}
    assert table.column("_ingested_at").null_count == 0
    assert manifest.schema_fingerprint == schema_fingerprint(table.schema)


def test_a_part_is_invisible_until_committed_and_an_abort_leaves_nothing(lake: Lake, paths: LandingPaths) -> None:
    lander = ParquetLander(lake, paths, SCHEMA, run_id="r", max_rows_per_part=10_000, block_bytes=16 * 1024)
    for start in range(0, 6000, 1000):
        lander.write(_batch(start, 1000))  # several blocks staged by now
    assert lander._sink is not None
    assert lander._sink.bytes_written > 2 * 16 * 1024
    assert lake.names(paths.prefix) == []  # staged blocks are not a blob
    lander.abort()
    assert lake.names(paths.prefix) == []


def test_rerun_of_the_same_run_overwrites_and_removes_its_stale_parts(lake: Lake, paths: LandingPaths) -> None:
    first = ParquetLander(lake, paths, SCHEMA, run_id="r", max_rows_per_part=100)
    first.write(_batch(0, 350))
    assert len(first.finish(window="w").files) == 4
    second = ParquetLander(lake, paths, SCHEMA, run_id="r", max_rows_per_part=100)
    second.write(_batch(0, 150))
    manifest = second.finish(window="w")
    assert lake.names(paths.prefix) == sorted([paths.part(0), paths.part(1), paths.manifest])
    assert _read_all(lake, [f.path for f in manifest.files]).num_rows == 150


def test_zero_rows_land_a_manifest_without_parts(lake: Lake, paths: LandingPaths) -> None:
    manifest = ParquetLander(lake, paths, SCHEMA, run_id="r").finish(window="empty")
    assert (manifest.rows, manifest.files) == (0, [])
    assert lake.names(paths.prefix) == [paths.manifest]


def test_a_new_landing_of_a_run_takes_the_old_manifest_away_before_overwriting_its_parts(
    lake: Lake, paths: LandingPaths
) -> None:
    first = ParquetLander(lake, paths, SCHEMA, run_id="r", max_rows_per_part=100)
    first.write(_batch(0, 250))
    old = first.finish(window="w")
    again = ParquetLander(lake, paths, SCHEMA, run_id="r", max_rows_per_part=100)
    again.write(_batch(1000, 100))  # part 0000 is rewritten: the old manifest must not lead a reader to it
    assert paths.manifest not in lake.names(paths.prefix)
    new = again.finish(window="w")
    assert new.landing_id
    assert old.landing_id
    assert new.landing_id != old.landing_id
    assert read_manifest(lake, paths).landing_id == new.landing_id


def test_landing_over_another_runs_manifest_is_refused_and_writes_nothing(lake: Lake, paths: LandingPaths) -> None:
    from ingestion.land.errors import LandingCollisionError

    ParquetLander(lake, paths, SCHEMA, run_id="scheduled__a").finish(window="w")
    other = ParquetLander(lake, paths, SCHEMA, run_id="manual__b", max_rows_per_part=100)
    with pytest.raises(LandingCollisionError, match="belongs to run scheduled__a, not manual__b"):
        other.write(_batch(0, 150))
    with pytest.raises(LandingCollisionError):
        ParquetLander(lake, paths, SCHEMA, run_id="manual__b").finish(window="empty")
    assert lake.names(paths.prefix) == [paths.manifest]
    assert read_manifest(lake, paths).run_id == "scheduled__a"
