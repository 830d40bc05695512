"""SQL sources: the declared (or drifted) columns of a table or query, the window's rows streamed as Arrow, counted
in the read's own snapshot where the dialect has one (extract/snapshot_read.py).

The window: `full` reads everything; `interval` the run's data interval (or, for a run without one, the latest whole
period of the schedule); `incremental` `[watermark, min(max cursor at start, now - safety margin)]`. The max cursor
is read just before the read opens its snapshot: rows at or below it that committed by then are all in it. A
zone-less timestamp cursor's values are wall-clock times of the source's zone: the max becomes the UTC instant it is
there, and the window names the zone (`cursor_zone`) so its bounds go back to wall-clock times when compared
(sql_query.window_for_dialect).
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ingestion.config.models import INTEGER_TYPES, NON_PERIODIC_SCHEDULES
from ingestion.extract.database_errors import database_errors_said_safely
from ingestion.extract.window import latest_complete_interval
from ingestion.pipeline.errors import ConfigNotSupportedError
from ingestion.pipeline.sources.base import Source, SourceBatch, SourceRead

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Engine
    from sqlalchemy.sql.expression import ColumnElement, FromClause

    from ingestion.config.models import Column
    from ingestion.extract.cursor import Cursor
    from ingestion.extract.snapshot_read import WindowRead
    from ingestion.extract.source_schema import SourceColumn
    from ingestion.extract.window import Window
    from ingestion.land.landing_facts import LandingFacts, PartitionFacts, SchemaDriftFacts
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan
    from ingestion.state.store import ControlStore
    from ingestion.validate.drift import Drift

log = logging.getLogger(__name__)


class SqlSource(Source):
    kind = "sql"

    def __init__(self, plan: EntityPlan, run: RunInfo) -> None:
        super().__init__(plan, run)
        self._engine: Engine | None = None
        self._relation: FromClause | None = None
        self._drift: Drift | None = None
        self._reflected: dict[str, SourceColumn] | None = None  # the table's columns by name; None for a query
        self._snapshot: WindowRead | None = None
        self._cuts: tuple[int, ...] | None = None  # load.partitions.ranges: the run's range cut points

    @property
    def engine(self) -> Engine:
        assert self._engine is not None, "open() first"
        return self._engine

    @property
    def relation(self) -> FromClause:
        assert self._relation is not None, "open() first"
        return self._relation

    def check_config(self) -> None:
        entity = self.plan.entity
        if not entity.columns:
            raise ConfigNotSupportedError(
                f"{self.where}: declare the entity's columns; SQL entities land exactly the declared columns and types"
            )
        if self.plan.landing.format != "parquet":
            raise ConfigNotSupportedError(
                f"{self.where}: landing format {self.plan.landing.format!r} is not implemented for SQL sources; "
                "use parquet"
            )

    def open(self) -> None:
        from ingestion.extract.sql_engine import source_engine
        from ingestion.extract.sql_query import source_relation

        locator = self.plan.entity.locator
        assert locator.kind == "sql"
        self._relation = source_relation(table_name=locator.table, schema=locator.schema_name, query=locator.query)
        self._engine = source_engine(self.plan.conn_id)  # create_engine does not connect; the first statement does

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def prepare(self, store: ControlStore) -> SourceRead:
        from ingestion.extract.cursor import Cursor

        columns = self._columns_to_land(store)
        load = self.plan.entity.load
        mark = self.stored_watermark(store) if load.mode == "incremental" else None
        cursor = Cursor.for_rows(load, mark, full_refresh=self.run.full_refresh, where=self.where)
        with database_errors_said_safely(self.where):  # the window reads the source's max cursor
            window = self._window(cursor)
        log.info("%s: %s window %s", self.where, load.mode, window.describe())
        self._read = SourceRead(cursor, window, columns)
        return self._read

    def _window(self, cursor: Cursor) -> Window:
        """The window to read for the entity's load mode (see the module docstring)."""
        from ingestion.extract.source_zone import instant
        from ingestion.extract.sql_query import ZONE_LESS_DIALECTS, select_cursor_sample, select_max_cursor

        plan, run = self.plan, self.run
        load = plan.entity.load
        zone = plan.source_timezone
        if load.mode == "full":
            return cursor.full_window()
        assert load.cursor_column is not None
        if load.mode == "interval":
            start, end = run.data_interval_start, run.data_interval_end
            if start is None or end is None or start >= end:
                if plan.schedule is None or plan.schedule in NON_PERIODIC_SCHEDULES:
                    raise ConfigNotSupportedError(
                        f"{self.where}: interval loads need a periodic schedule, not {plan.schedule}"
                    )
                start, end = latest_complete_interval(plan.schedule, run.run_after or datetime.now(UTC))
            window = cursor.interval_window(start, end)
            zone_less = self.engine.dialect.name in ZONE_LESS_DIALECTS
            if not zone_less:
                with self.engine.connect() as conn:
                    sample = conn.execute(select_cursor_sample(self.relation, load.cursor_column)).scalar()
                zone_less = isinstance(sample, datetime) and sample.tzinfo is None
            return replace(window, cursor_zone=zone) if zone_less else window
        with self.engine.connect() as conn:
            max_cursor = conn.execute(select_max_cursor(self.relation, load.cursor_column)).scalar_one()
        zone_less = isinstance(max_cursor, datetime) and max_cursor.tzinfo is None
        window = cursor.incremental_window(max_cursor=instant(max_cursor, zone), now=datetime.now(UTC))
        if zone_less or self.engine.dialect.name in ZONE_LESS_DIALECTS:
            window = replace(window, cursor_zone=zone)
        return window

    def _columns_to_land(self, store: ControlStore) -> tuple[Column, ...]:
        """The declared columns, or what the drift policy makes of them. Only tables are reflected; a query's
        columns are what it selects. A `fail` outcome is recorded as a failed check before the error is raised."""
        from ingestion.extract.source_schema import reflect_columns
        from ingestion.validate.check_result import CheckResult
        from ingestion.validate.drift import compare, landed_columns
        from ingestion.validate.errors import SchemaDriftError

        plan, entity = self.plan, self.plan.entity
        locator = entity.locator
        assert locator.kind == "sql"
        if locator.table is None:
            return tuple(entity.columns)
        with database_errors_said_safely(self.where):
            reflected = reflect_columns(self.engine, locator.table, locator.schema_name)
        self._reflected = {c.name: c for c in reflected}
        drift = compare(entity.columns, reflected)
        if drift.any:
            log.warning("%s: schema drift (%s): %s", self.where, entity.schema_drift, drift.describe())
        try:
            columns = landed_columns(entity.columns, drift, entity.schema_drift, self.where)
        except SchemaDriftError as error:
            result = CheckResult("schema_drift", "schema_drift", False, "error", str(error), drift.as_dict())
            store.record_checks(plan.source, entity.name, self.run.run_id, self.run.try_number, [result.as_dict()])
            raise
        self._drift = drift
        return columns

    def batches(self) -> Generator[SourceBatch, None, None]:
        from ingestion.extract.adbc_reader import usable_for
        from ingestion.extract.arrow_types import arrow_schema
        from ingestion.extract.read_casts import read_casts
        from ingestion.extract.snapshot_read import WindowRead
        from ingestion.extract.sql_query import select_count, select_rows, window_for_dialect
        from ingestion.prefetch import prefetched

        window, columns = self.read.window, self.read.columns
        assert window is not None
        if window.empty:
            return
        absent = set(self._drift.missing) if self._drift else set()
        schema = arrow_schema(columns)
        read_columns = [c for c in columns if c.name not in absent]
        read_schema = arrow_schema(read_columns)
        cursor = self.plan.entity.load.cursor_column
        dialect = self.engine.dialect.name
        bounded = window_for_dialect(window, dialect)
        adbc = usable_for(dialect, window)
        if adbc:
            log.info("reading through ADBC (Arrow-native COPY)")
        rows = select_rows(
            self.relation, read_schema.names, cursor, bounded, read_casts(dialect, read_columns, self._reflected)
        )
        count = select_count(self.relation, cursor, bounded)
        if (share := self._partition_share(dialect)) is not None:
            rows, count = rows.where(share), count.where(share)
        self._snapshot = WindowRead(
            self.engine,
            rows,
            count,
            read_schema,
            use_adbc=adbc,
            source_zone=self.plan.source_timezone,
        )
        # The source is read a couple of batches ahead while the previous ones are encoded and uploaded.
        batches = prefetched(self._snapshot.batches(), name="source-reader")
        try:
            with database_errors_said_safely(self.where):
                for batch in batches:
                    yield SourceBatch(_with_null_columns(batch, schema) if absent else batch)
        finally:
            # Closes the source cursor now: a failure must not leave a transaction (and its table locks) open until
            # the generator happens to be collected.
            batches.close()

    def key_range(self) -> tuple[int | None, int | None]:
        from ingestion.extract.sql_query import select_key_range, window_for_dialect

        partitions, window = self.plan.entity.load.partitions, self.read.window
        assert partitions is not None
        assert partitions.column is not None
        assert window is not None
        # Over the window, not the table: ids that grow with time would put an interval's rows in one range.
        bounded = window_for_dialect(window, self.engine.dialect.name)
        statement = select_key_range(self.relation, partitions.column, self.plan.entity.load.cursor_column, bounded)
        with database_errors_said_safely(self.where), self.engine.connect() as conn:
            low, high = conn.execute(statement).one()
        return (None if low is None else int(low), None if high is None else int(high))

    def read_range(self, cuts: tuple[int, ...]) -> None:
        self._cuts = cuts

    def _partition_share(self, dialect: str) -> ColumnElement[bool] | None:
        """The condition of this task's partition of the window (load.partitions), or None when it reads it all."""
        from ingestion.extract.sql_partition import partition_condition, range_condition

        partitions, partition = self.plan.entity.load.partitions, self.run.partition
        if partitions is None or partition is None:
            return None
        log.info("%s: reading partition %d of %d", self.where, partition, partitions.count)
        if partitions.ranges:
            if self._cuts is None:
                raise ConfigNotSupportedError(f"{self.where}: partition {partition} has no range cuts (read_range)")
            assert partitions.column is not None
            return range_condition(self.relation, column_name=partitions.column, cuts=self._cuts, partition=partition)
        key = self.plan.entity.primary_key
        declared = {c.name: c.type.strip().lower() for c in self.plan.entity.columns}
        return partition_condition(
            self.relation,
            dialect,
            count=partitions.count,
            partition=partition,
            column_name=partitions.column,
            key=key,
            integer_key=len(key) == 1 and declared.get(key[0]) in INTEGER_TYPES,
        )

    def facts(self, new_watermark: Any, *, left_out: int) -> LandingFacts:
        from ingestion.extract.window import WindowBounds
        from ingestion.land.landing_facts import LandingFacts, SqlReadFacts

        read, entity = self.read, self.plan.entity
        window = read.window
        assert window is not None
        move = read.cursor.move(new_watermark)
        return LandingFacts(
            watermark_from=move.start,
            watermark_to=move.end,
            watermark_type=move.value_type,
            window_start=read.cursor.encode(window.low),
            window_end=read.cursor.encode(window.high),
            columns=read.columns if read.columns != tuple(entity.columns) else None,
            left_out_at_boundary=left_out,
            schema_drift=_drift_facts(self._drift, entity.schema_drift),
            sql=SqlReadFacts(
                WindowBounds.of(window),
                self._snapshot.counted if self._snapshot is not None else None,  # the window's rows in the snapshot
            ),
            partitioning=self._partitioning(),
        )

    def _partitioning(self) -> PartitionFacts | None:
        """Which share of the window this task read, for validate to check that its partitions make one run."""
        from ingestion.land.landing_facts import PartitionFacts

        partitions, partition = self.plan.entity.load.partitions, self.run.partition
        if partitions is None or partition is None:
            return None
        return PartitionFacts(count=partitions.count, key=partitions.column or "", partition=partition, cuts=self._cuts)


def _drift_facts(drift: Drift | None, policy: str) -> SchemaDriftFacts | None:
    from ingestion.land.landing_facts import AddedColumn, RetypedColumn, SchemaDriftFacts

    if drift is None or not drift.any:
        return None
    return SchemaDriftFacts(
        policy=policy,
        detail=drift.describe(),
        added=tuple(AddedColumn(c["name"], c["type"], c["native"], c["nullable"]) for c in drift.added),
        missing=tuple(drift.missing),
        retyped=tuple(RetypedColumn(c["name"], c["declared"], c["source"], c["native"]) for c in drift.retyped),
        nullable=tuple(drift.nullable),
    )


def _with_null_columns(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch with the columns the source no longer has, as NULLs, in landing order."""
    import pyarrow as pa

    arrays = [
        batch.column(f.name) if f.name in batch.schema.names else pa.nulls(batch.num_rows, f.type) for f in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
