"""extract_land for SQL sources: work out the window, stream the rows as Arrow, land Parquet parts and a manifest.

Returns a small summary for XCom (paths, counts, window, schema fingerprint, the watermark the run started from
and the one commit should move to). Never the data, never a secret.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ingestion.config.models import NON_PERIODIC_SCHEDULES
from ingestion.errors import NotRetriableError
from ingestion.extract.window import (
    Window,
    full_window,
    incremental_window,
    interval_window,
    latest_complete_interval,
    next_watermark,
)
from ingestion.pipeline.landed_run import landed_summary
from ingestion.pipeline.run_guard import reuse_or_guard
from ingestion.state import watermark_values

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Engine
    from sqlalchemy.sql.expression import FromClause

    from ingestion.config.models import Column
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan
    from ingestion.state.store import ControlStore
    from ingestion.validate.drift import Drift

log = logging.getLogger(__name__)


class ConfigNotSupportedError(NotRetriableError):
    """The config asks for something this stage cannot do safely."""


def _guard(plan: EntityPlan) -> None:
    entity = plan.entity
    if not entity.columns:
        raise ConfigNotSupportedError(
            f"{plan.source}.{entity.name}: declare the entity's columns; SQL entities land exactly the declared "
            "columns and types"
        )
    if plan.landing.format != "parquet":
        raise ConfigNotSupportedError(
            f"{plan.source}.{entity.name}: landing format {plan.landing.format!r} is not implemented for SQL "
            "sources; use parquet"
        )


def compute_window(
    plan: EntityPlan,
    run: RunInfo,
    *,
    engine: Engine,
    store: ControlStore,
    relation: FromClause,
    now: datetime | None = None,
) -> tuple[Window, Any]:
    """The window to read, and the watermark the run starts from (decoded), for the entity's load mode.

    The max cursor is read here, just before extract_land's read opens its snapshot (extract/snapshot_read.py): rows
    at or below it that committed by then are all in that snapshot. A zone-less timestamp cursor's values are
    wall-clock times of the source's zone: the max becomes the UTC instant it is there, and the window names the zone
    (`cursor_zone`) so its bounds go back to wall-clock times when compared (sql_query.window_for_dialect)."""
    from dataclasses import replace

    from ingestion.extract.source_zone import instant
    from ingestion.extract.sql_query import ZONE_LESS_DIALECTS, select_cursor_sample, select_max_cursor
    from ingestion.extract.window import LookbackUnitError

    load = plan.entity.load
    zone = plan.source_timezone
    if load.mode == "full":
        return full_window(), None
    assert load.cursor_column is not None
    if load.mode == "interval":
        start, end = run.data_interval_start, run.data_interval_end
        if start is None or end is None or start >= end:
            if plan.schedule is None or plan.schedule in NON_PERIODIC_SCHEDULES:
                raise ConfigNotSupportedError(
                    f"{plan.source}.{plan.entity.name}: interval loads need a periodic schedule, not {plan.schedule}"
                )
            start, end = latest_complete_interval(plan.schedule, run.run_after or now or datetime.now(UTC))
        window = interval_window(start, end)
        zone_less = engine.dialect.name in ZONE_LESS_DIALECTS
        if not zone_less:
            with engine.connect() as conn:
                sample = conn.execute(select_cursor_sample(relation, load.cursor_column)).scalar()
            zone_less = isinstance(sample, datetime) and sample.tzinfo is None
        return (replace(window, cursor_zone=zone) if zone_less else window), None
    mark = store.get_watermark(plan.source, plan.entity.name)
    watermark = watermark_values.decode(mark.value, mark.value_type) if mark else None
    with engine.connect() as conn:
        max_cursor = conn.execute(select_max_cursor(relation, load.cursor_column)).scalar_one()
    zone_less = isinstance(max_cursor, datetime) and max_cursor.tzinfo is None
    max_cursor = instant(max_cursor, zone)
    try:
        window = incremental_window(
            watermark=watermark,
            max_cursor=max_cursor,
            now=now or datetime.now(UTC),
            safety_margin=timedelta(seconds=load.safety_margin_seconds),
            lookback=timedelta(minutes=load.lookback_minutes),
            lookback_ids=load.lookback_ids,
            full_refresh=run.full_refresh,
        )
    except LookbackUnitError as error:
        raise ConfigNotSupportedError(f"{plan.source}.{plan.entity.name}: load.{error}") from None
    if zone_less or engine.dialect.name in ZONE_LESS_DIALECTS:
        window = replace(window, cursor_zone=zone)
    return window, watermark


def window_bounds(window: Window) -> dict[str, Any]:
    """The window in the manifest, so validate can count the same rows at the source (reconciliation)."""
    bound = window.low if window.low is not None else window.high
    return {
        "mode": window.mode,
        "low": watermark_values.encode(window.low),
        "high": watermark_values.encode(window.high),
        "low_inclusive": window.low_inclusive,
        "high_inclusive": window.high_inclusive,
        "empty": window.empty,
        "value_type": watermark_values.cursor_type(bound if bound is not None else ""),
        "cursor_zone": window.cursor_zone,
    }


def window_from_bounds(bounds: dict[str, Any]) -> Window:
    kind = bounds["value_type"]
    return Window(
        mode=bounds["mode"],
        low=watermark_values.decode(bounds["low"], kind),
        high=watermark_values.decode(bounds["high"], kind),
        low_inclusive=bounds["low_inclusive"],
        high_inclusive=bounds["high_inclusive"],
        empty=bounds["empty"],
        cursor_zone=bounds.get("cursor_zone"),  # manifests written before zones were named: None
    )


def _columns_to_land(
    plan: EntityPlan, run: RunInfo, engine: Engine, store: ControlStore
) -> tuple[tuple[Column, ...], Drift | None]:
    """The declared columns, or what the drift policy makes of them. Only tables are reflected; a query's columns
    are what it selects. A `fail` outcome is recorded as a failed check before the error is raised."""
    from ingestion.extract.source_schema import reflect_columns
    from ingestion.validate.checks import CheckResult
    from ingestion.validate.drift import SchemaDriftError, compare, landed_columns

    entity = plan.entity
    locator = entity.locator
    assert locator.kind == "sql"
    if locator.table is None:
        return tuple(entity.columns), None
    drift = compare(entity.columns, reflect_columns(engine, locator.table, locator.schema_name))
    if drift.any:
        log.warning("%s.%s: schema drift (%s): %s", plan.source, entity.name, entity.schema_drift, drift.describe())
    try:
        return landed_columns(entity.columns, drift, entity.schema_drift, f"{plan.source}.{entity.name}"), drift
    except SchemaDriftError as error:
        result = CheckResult("schema_drift", "schema_drift", False, "error", str(error), drift.as_dict())
        store.record_checks(plan.source, entity.name, run.run_id, run.try_number, [result.as_dict()])
        raise


def _with_null_columns(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch with the columns the source no longer has, as NULLs, in landing order."""
    import pyarrow as pa

    arrays = [
        batch.column(f.name) if f.name in batch.schema.names else pa.nulls(batch.num_rows, f.type) for f in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def extract_land(plan: EntityPlan, run: RunInfo) -> dict[str, Any]:
    from ingestion.extract.adbc_reader import usable_for
    from ingestion.extract.arrow_types import arrow_schema
    from ingestion.extract.snapshot_read import WindowRead
    from ingestion.extract.sql_engine import source_engine
    from ingestion.extract.sql_query import select_count, select_rows, source_relation, window_for_dialect
    from ingestion.pipeline.boundary_ties import boundary_ties
    from ingestion.pipeline.masked_landing import MaskedLanding, load_plan_keys, pii_masker
    from ingestion.prefetch import prefetched
    from ingestion.state.store import open_control_store

    _guard(plan)
    keys = load_plan_keys(plan)  # a missing key fails here, before the source is touched
    started = time.monotonic()
    entity = plan.entity
    locator = entity.locator
    assert locator.kind == "sql"
    relation = source_relation(table_name=locator.table, schema=locator.schema_name, query=locator.query)
    engine = source_engine(plan.conn_id)  # create_engine does not connect; the first statement does
    try:
        with open_control_store() as store:
            reused = reuse_or_guard(plan, run, store)
            if reused is not None:
                return reused
            columns, drift = _columns_to_land(plan, run, engine, store)
            window, watermark = compute_window(plan, run, engine=engine, store=store, relation=relation)
        log.info("%s.%s: %s window %s", plan.source, entity.name, entity.load.mode, window.describe())
        absent = set(drift.missing) if drift else set()
        schema = arrow_schema(columns)
        read_schema = arrow_schema([c for c in columns if c.name not in absent])
        lander = MaskedLanding(plan, run, pii_masker(plan, keys, columns))
        ties = boundary_ties(plan, run, keys, columns, window=window, watermark=watermark)
        rows = 0
        counted: int | None = None  # the window's rows in the read's snapshot, where the dialect has one
        try:
            if not window.empty:
                cursor = entity.load.cursor_column
                bounded = window_for_dialect(window, engine.dialect.name)
                adbc = usable_for(engine.dialect.name, window)
                if adbc:
                    log.info("reading through ADBC (Arrow-native COPY)")
                read = WindowRead(
                    engine,
                    select_rows(relation, read_schema.names, cursor, bounded),
                    select_count(relation, cursor, bounded),
                    read_schema,
                    use_adbc=adbc,
                    source_zone=plan.source_timezone,
                )
                # The source is read a couple of batches ahead while the previous ones are encoded and uploaded.
                batches = prefetched(read.batches(), name="source-reader")
                try:
                    for batch in batches:
                        if absent:
                            batch = _with_null_columns(batch, schema)
                        if ties is not None:
                            batch = ties.leave_out(batch)
                            ties.note(batch)
                        lander.write(batch)
                        rows += batch.num_rows
                        if rows and rows % 1_000_000 < batch.num_rows:
                            log.info("%s.%s: %d rows landed so far", plan.source, entity.name, rows)
                except BaseException:
                    lander.abort()
                    raise
                finally:
                    # Closes the source cursor now: a failure must not leave a transaction (and its table locks)
                    # open until the generator happens to be collected.
                    batches.close()
                counted = read.counted
            new_watermark = next_watermark(window, watermark)
            if ties is not None:
                ties.finish(new_watermark)  # before the manifest: a landed run always has its keys recorded
        finally:
            if ties is not None:
                ties.close()
        extra: dict[str, Any] = {
            "watermark_from": watermark_values.encode(watermark),
            "watermark_to": watermark_values.encode(new_watermark),
            "watermark_type": watermark_values.cursor_type(new_watermark if new_watermark is not None else ""),
            "window_bounds": window_bounds(window),
            "source_count": counted,
            "left_out_at_boundary": ties.left_out if ties is not None else 0,
        }
        if drift is not None and drift.any:
            extra["schema_drift"] = {"policy": entity.schema_drift, "detail": drift.describe(), **drift.as_dict()}
        if tuple(columns) != tuple(entity.columns):
            extra["columns"] = [c.model_dump(mode="json", exclude_defaults=True) for c in columns]
        extra.update(window_start=watermark_values.encode(window.low), window_end=watermark_values.encode(window.high))
        manifest = lander.finish(window=window.describe(), extra=extra)
    finally:
        engine.dispose()
    seconds = round(time.monotonic() - started, 3)
    log.info(
        "%s.%s: landed %d rows in %d file(s), %d bytes, in %.1f s",
        plan.source,
        entity.name,
        manifest.rows,
        len(manifest.files),
        manifest.bytes,
        seconds,
    )
    return landed_summary(plan, run, manifest, seconds=seconds)
