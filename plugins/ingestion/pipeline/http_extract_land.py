"""extract_land for REST sources: page through the endpoint, type each page's records, land them like SQL rows.

Windows: `full` sends no window parameter; `incremental` sends the watermark (less the lookback) in
`incremental_param`, and the new watermark is the largest cursor value seen (never lower than the old one);
`interval` sends the data interval's start (and end, with `interval_end_param`) and keeps only records whose
cursor falls in `[start, end)`, counting the others as outside the window. Every record received is counted, so
reconciliation can hold landed + quarantined + outside-window to it.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ingestion.extract.window import LookbackUnitError, Window, lowered_by_lookback
from ingestion.pipeline.landed_run import landed_summary
from ingestion.pipeline.run_guard import reuse_or_guard
from ingestion.state import watermark_values

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan
    from ingestion.state.store import ControlStore

log = logging.getLogger(__name__)


def _param_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def http_window(plan: EntityPlan, run: RunInfo, store: ControlStore) -> tuple[Window, Any, dict[str, str]]:
    """The window, the watermark the run starts from, and the query parameters that ask the API for the window."""
    from ingestion.pipeline.sql_extract_land import ConfigNotSupportedError

    entity = plan.entity
    locator = entity.locator
    assert locator.kind == "http"
    load = entity.load
    params = dict(locator.params)
    if load.mode == "full":
        return Window(mode="full"), None, params
    if not locator.incremental_param:
        raise ConfigNotSupportedError(
            f"{plan.source}.{entity.name}: {load.mode} loads of an http entity need locator.incremental_param, the "
            "query parameter the API filters on"
        )
    if load.mode == "interval":
        start, end = run.data_interval_start, run.data_interval_end
        if start is None or end is None or start >= end:
            raise ConfigNotSupportedError(
                f"{plan.source}.{entity.name}: interval loads need a run with a data interval (a scheduled or "
                "backfill run)"
            )
        params[locator.incremental_param] = _param_text(start)
        if locator.interval_end_param:
            params[locator.interval_end_param] = _param_text(end)
        return Window(mode="interval", low=start, high=end, low_inclusive=True, high_inclusive=False), None, params
    mark = store.get_watermark(plan.source, entity.name)
    watermark = watermark_values.decode(mark.value, mark.value_type) if mark else None
    low = None if run.full_refresh else watermark
    if low is not None and (load.lookback_minutes or load.lookback_ids):
        try:
            low = lowered_by_lookback(low, timedelta(minutes=load.lookback_minutes), load.lookback_ids)
        except LookbackUnitError as error:
            raise ConfigNotSupportedError(f"{plan.source}.{entity.name}: load.{error}") from None
    if low is not None:
        params[locator.incremental_param] = _param_text(low)
    # The parameter is taken as inclusive (the API returns records at exactly that value): the records the run that
    # set the watermark landed there are left out by key (pipeline/boundary_ties.py).
    return Window(mode="incremental", low=low, high=None, low_inclusive=True), watermark, params


def _keep_in_window(batch: pa.RecordBatch, cursor: str, window: Window) -> pa.RecordBatch:
    import pyarrow.compute as pc

    values = batch.column(cursor)
    inside = pc.and_(pc.greater_equal(values, window.low), pc.less(values, window.high))
    return batch.filter(pc.fill_null(inside, False))


def extract_land(plan: EntityPlan, run: RunInfo) -> dict[str, Any]:
    import pyarrow.compute as pc

    from ingestion.extract.http_client import ApiClient
    from ingestion.extract.http_pages import pages
    from ingestion.extract.record_typing import RecordTyper, numbered
    from ingestion.pipeline.boundary_ties import boundary_ties
    from ingestion.pipeline.record_landing import RecordRunLanding, advanced, load_record_run_keys
    from ingestion.state.store import open_control_store

    entity = plan.entity
    locator = entity.locator
    assert locator.kind == "http"
    where = f"{plan.source}.{entity.name}"
    keys = load_record_run_keys(plan)
    started = time.monotonic()
    with open_control_store() as store:
        reused = reuse_or_guard(plan, run, store)
        if reused is not None:
            return reused
        window, watermark, params = http_window(plan, run, store)
    log.info("%s: %s window %s, parameters %s", where, entity.load.mode, window.describe(), sorted(params))
    typer = RecordTyper(entity.columns, locator.extra_column)
    columns = [*entity.columns, *entity.platform_columns]
    landing = RecordRunLanding(plan, run, keys, columns)
    cursor = entity.load.cursor_column
    highest: Any = None
    ties = boundary_ties(plan, run, keys, columns, window=window, watermark=watermark)
    try:
        client = ApiClient(plan.conn_id, plan.http, where=where)
        try:
            for page in pages(client, locator, params, where=where):
                batch, rejected = typer.records_to_batch(page.records, numbered(f"page {page.number} record", 0))
                kept = _keep_in_window(batch, cursor, window) if window.mode == "interval" and cursor else batch
                outside = batch.num_rows - kept.num_rows
                if ties is not None:
                    kept = ties.leave_out(kept)  # counted apart, as left out at the boundary
                    ties.note(kept)
                if cursor and kept.num_rows:
                    highest = advanced(highest, pc.max(kept.column(cursor)).as_py())
                landing.add(kept, rejected, seen=len(page.records), outside_window=outside)
                if page.number % 100 == 0:
                    log.info("%s: %d page(s), %d record(s) so far", where, page.number, landing.records_seen)
        except BaseException:
            landing.abort()
            raise
        finally:
            client.close()
        new_watermark = advanced(watermark, highest) if window.mode == "incremental" else watermark
        if ties is not None:
            ties.finish(new_watermark)  # before the manifest: a landed run always has its keys recorded
    finally:
        if ties is not None:
            ties.close()
    extra: dict[str, Any] = {
        "watermark_from": watermark_values.encode(watermark),
        "watermark_to": watermark_values.encode(new_watermark),
        "watermark_type": watermark_values.cursor_type(new_watermark if new_watermark is not None else ""),
        "requests": client.requests_made,
        "columns": [c.model_dump(mode="json", exclude_defaults=True) for c in columns],
        "left_out_at_boundary": ties.left_out if ties is not None else 0,
    }
    extra.update(
        window_start=watermark_values.encode(window.low),
        window_end=watermark_values.encode(window.high if window.mode == "interval" else new_watermark),
    )
    manifest = landing.finish(window=window.describe(), extra=extra)
    seconds = round(time.monotonic() - started, 3)
    log.info("%s: landed %d rows from %d request(s) in %.1f s", where, manifest.rows, client.requests_made, seconds)
    return landed_summary(plan, run, manifest, seconds=seconds)
