"""REST sources: page through the endpoint and type each page's records by the declared columns.

Windows: `full` sends no window parameter; `incremental` sends the watermark (less the lookback) in
`incremental_param`, and the new watermark is the largest cursor value landed (never lower than the old one);
`interval` sends the data interval's start (and end, with `interval_end_param`) and keeps only records whose
cursor falls in `[start, end)`, counting the others as outside the window. Every record received is counted, so
reconciliation can hold landed + quarantined + outside-window to it.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ingestion.pipeline.errors import ConfigNotSupportedError
from ingestion.pipeline.sources.base import Source, SourceBatch, SourceRead

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.extract.cursor import Cursor
    from ingestion.extract.window import Window
    from ingestion.land.landing_facts import LandingFacts
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan
    from ingestion.state.store import ControlStore

log = logging.getLogger(__name__)


def _param_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _keep_in_window(batch: pa.RecordBatch, cursor: str, window: Window) -> pa.RecordBatch:
    import pyarrow.compute as pc

    values = batch.column(cursor)
    inside = pc.and_(pc.greater_equal(values, window.low), pc.less(values, window.high))
    return batch.filter(pc.fill_null(inside, False))


class RestSource(Source):
    kind = "http"
    counts_records = True

    def __init__(self, plan: EntityPlan, run: RunInfo) -> None:
        super().__init__(plan, run)
        self.params: dict[str, str] = {}
        self.requests = 0

    def check_config(self) -> None:
        self.require_declared_columns("records are typed by them")

    def prepare(self, store: ControlStore) -> SourceRead:
        from ingestion.extract.cursor import Cursor

        entity = self.plan.entity
        mark = self.stored_watermark(store) if entity.load.mode == "incremental" else None
        cursor = Cursor.for_rows(entity.load, mark, full_refresh=self.run.full_refresh, where=self.where)
        window, self.params = self.window_and_params(cursor)
        log.info(
            "%s: %s window %s, parameters %s", self.where, entity.load.mode, window.describe(), sorted(self.params)
        )
        self._read = SourceRead(cursor, window, (*entity.columns, *entity.platform_columns))
        return self._read

    def window_and_params(self, cursor: Cursor) -> tuple[Window, dict[str, str]]:
        """The window, and the query parameters that ask the API for it."""
        entity = self.plan.entity
        locator = entity.locator
        assert locator.kind == "http"
        load = entity.load
        params = dict(locator.params)
        if load.mode == "full":
            return cursor.full_window(), params
        if not locator.incremental_param:
            raise ConfigNotSupportedError(
                f"{self.where}: {load.mode} loads of an http entity need locator.incremental_param, the query "
                "parameter the API filters on"
            )
        if load.mode == "interval":
            start, end = self.run.data_interval_start, self.run.data_interval_end
            if start is None or end is None or start >= end:
                raise ConfigNotSupportedError(
                    f"{self.where}: interval loads need a run with a data interval (a scheduled or backfill run)"
                )
            params[locator.incremental_param] = _param_text(start)
            if locator.interval_end_param:
                params[locator.interval_end_param] = _param_text(end)
            return cursor.interval_window(start, end), params
        window = cursor.open_window()
        if window.low is not None:
            params[locator.incremental_param] = _param_text(window.low)
        # The parameter is taken as inclusive (the API returns records at exactly that value): the records the run
        # that set the watermark landed there are left out by key (pipeline/boundary_ties.py).
        return window, params

    def batches(self) -> Generator[SourceBatch, None, None]:
        from ingestion.extract.http_client import ApiClient
        from ingestion.extract.http_pages import pages
        from ingestion.extract.record_typing import RecordTyper, numbered

        entity = self.plan.entity
        locator = entity.locator
        assert locator.kind == "http"
        window = self.read.window
        assert window is not None
        cursor = entity.load.cursor_column
        in_interval = window.mode == "interval" and cursor is not None
        # A record without its cursor is in no interval: quarantined, not dropped as outside this one.
        typer = RecordTyper(
            entity.columns,
            locator.extra_column,
            required=(cursor,) if in_interval and cursor else (),
            required_reason="no interval holds a record without its cursor",
        )
        seen = 0
        client = ApiClient(self.plan.conn_id, self.plan.http, where=self.where)
        try:
            for page in pages(client, locator, self.params, where=self.where):
                batch, rejected = typer.records_to_batch(page.records, numbered(f"page {page.number} record", 0))
                kept = _keep_in_window(batch, cursor, window) if in_interval and cursor else batch
                seen += len(page.records)
                yield SourceBatch(kept, rejected, seen=len(page.records), outside_window=batch.num_rows - kept.num_rows)
                if page.number % 100 == 0:
                    log.info("%s: %d page(s), %d record(s) so far", self.where, page.number, seen)
        finally:
            self.requests = client.requests_made
            client.close()

    def facts(self, new_watermark: Any, *, left_out: int) -> LandingFacts:
        from ingestion.land.landing_facts import LandingFacts

        read = self.read
        window = read.window
        assert window is not None
        move = read.cursor.move(new_watermark)
        return LandingFacts(
            watermark_from=move.start,
            watermark_to=move.end,
            watermark_type=move.value_type,
            window_start=read.cursor.encode(window.low),
            window_end=read.cursor.encode(window.high if window.mode == "interval" else new_watermark),
            columns=read.columns,
            left_out_at_boundary=left_out,
            requests=self.requests,
        )

    def read_from(self) -> str:
        return f"from {self.requests} request(s)"
