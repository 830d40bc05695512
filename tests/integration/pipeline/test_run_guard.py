"""What a stage does when the watermark moved under a run that has not published yet: publish refuses before
anything is sent, and the run, cleared from extract_land, lands its window again from the new watermark. Two runs
that read the same window side by side publish it once: the later waits for the first's commit and is superseded."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException, AirflowSkipException
from sqlalchemy import create_engine, text

from ingestion.state.store import open_control_store
from tests.integration.support import (
    CRM_WRITER_URL,
    ORDERS_COLUMNS,
    ORDERS_TABLE_SQL,
    crm_table,
    read_committed,
    run_stages,
    sql_source_config,
    write_configs,
)

END = datetime(2026, 11, 2, tzinfo=UTC)
RUN = "scheduled__2026-11-02"


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"g{uuid.uuid4().hex[:8]}"
    with crm_table(f"{name}_orders", ORDERS_TABLE_SQL) as writer:
        with writer.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {name}_orders SELECT g, 'c' || g, g * 1.25, true, "
                    "timestamptz '2026-11-01 00:00+00' + g * interval '1 minute' FROM generate_series(1, 300) g"
                )
            )
        entity = {
            "name": "orders",
            "locator": {"kind": "sql", "schema": "public", "table": f"{name}_orders"},
            "primary_key": ["order_id"],
            "columns": ORDERS_COLUMNS,
            "load": {"mode": "incremental", "cursor_column": "updated_at", "safety_margin_seconds": 0},
        }
        monkeypatch.setenv(
            "INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", sql_source_config(name, [entity])))
        )
        yield name


def test_publish_refuses_a_run_whose_watermark_moved_after_it_landed(source: str) -> None:
    results: dict[str, Any] = {}
    run_stages(source, "orders", RUN, END, stages=("extract_land", "validate"), results=results)
    assert results["extract_land"]["rows"] == 300
    with open_control_store() as store:
        store.set_watermark(source, "orders", "2026-11-01T04:00:00+00:00", reason="skip ahead", changed_by="cli:t")
    with pytest.raises(AirflowFailException, match="the watermark is '2026-11-01T04:00:00\\+00:00', but this run"):
        run_stages(source, "orders", RUN, END, stages=("publish",), results=results)
    with open_control_store() as store:
        assert store.publish_record(source, "orders", RUN) is None  # nothing began: the run is not frozen

    # As the message says: clear the entity from extract_land; the run lands from the new watermark.
    again = run_stages(source, "orders", RUN, END)
    # Minutes 240..300: a value set by hand is read inclusively (no run's boundary keys stand behind it).
    assert again["extract_land"]["rows"] == 61
    assert again["extract_land"]["landing_id"] != results["extract_land"]["landing_id"]
    keys = sorted(int(k) for k, _, _ in read_committed(f"ingest.{source}.orders"))
    assert keys == list(range(240, 301))  # each row from the new watermark once, none before it


def test_two_runs_that_read_the_same_window_publish_it_once(source: str) -> None:
    """A manual trigger beside a scheduled run: both read from the same watermark before either published. Only the
    first to publish sends the rows; the other waits until that one committed, then is skipped (superseded)."""
    first, second = "scheduled__2026-11-02", "manual__2026-11-02T00:30:00"
    ends = {first: END, second: END + timedelta(minutes=30)}
    landed: dict[str, dict[str, Any]] = {first: {}, second: {}}
    for run_id, results in landed.items():
        run_stages(source, "orders", run_id, ends[run_id], stages=("extract_land", "validate"), results=results)
        assert results["extract_land"]["rows"] == 300
    run_stages(source, "orders", first, END, stages=("publish",), results=landed[first])

    with pytest.raises(AirflowRescheduleException):  # the first run published and has not committed yet
        run_stages(source, "orders", second, ends[second], stages=("publish",), results=landed[second])
    run_stages(source, "orders", first, END, stages=("commit",), results=landed[first])
    with pytest.raises(AirflowSkipException, match=f"run {first} committed after this run read the watermark"):
        run_stages(source, "orders", second, ends[second], stages=("publish",), results=landed[second])
    with open_control_store() as store:
        assert store.publish_record(source, "orders", second) is None  # nothing of it began
        assert store.get_watermark(source, "orders").value == "2026-11-01T05:00:00+00:00"

    # The next run reads on from the watermark the first run left: each row reaches Kafka once.
    _insert(source, "timestamptz '2026-11-01 00:00+00' + g * interval '1 minute'", 301, 310)
    later = run_stages(source, "orders", "scheduled__2026-11-03", END + timedelta(days=1))
    assert later["commit"]["rows_published"] >= 10
    published = Counter(int(k) for k, _, _ in read_committed(f"ingest.{source}.orders"))
    assert set(published) == set(range(1, 311))
    assert max(published.values()) == 1, "a row was published twice"


def test_a_run_that_committed_after_another_read_supersedes_it_when_the_watermark_stays(source: str) -> None:
    """Rows committed late at exactly the watermark's value, read by two runs side by side: the first's commit keeps
    the watermark where it was, so only the record of a commit since the second read the watermark tells that the
    second's rows are the first's."""
    run_stages(source, "orders", "scheduled__2026-11-02", END)  # every row; the watermark is row 300's 05:00
    _insert(source, "timestamptz '2026-11-01 05:00+00'", 301, 305)
    first, second = "scheduled__2026-11-03", "manual__2026-11-03T00:30:00"
    ends = {first: END + timedelta(days=1), second: END + timedelta(days=1, minutes=30)}
    landed: dict[str, dict[str, Any]] = {first: {}, second: {}}
    for run_id, results in landed.items():
        run_stages(source, "orders", run_id, ends[run_id], stages=("extract_land", "validate"), results=results)
        assert results["extract_land"]["rows"] == 5  # row 300, tied too, was landed by the first run: left out
    run_stages(source, "orders", first, ends[first], stages=("publish", "commit"), results=landed[first])
    with open_control_store() as store:
        assert store.get_watermark(source, "orders").value == "2026-11-01T05:00:00+00:00"  # it stayed

    with pytest.raises(AirflowSkipException, match=f"run {first} committed after this run read the watermark"):
        run_stages(source, "orders", second, ends[second], stages=("publish",), results=landed[second])
    published = Counter(int(k) for k, _, _ in read_committed(f"ingest.{source}.orders"))
    assert set(published) == set(range(1, 306))
    assert max(published.values()) == 1, "a row was published twice"


def _insert(source: str, updated_at_sql: str, first: int, last: int) -> None:
    """Orders `first`..`last` (g), updated at `updated_at_sql`."""
    writer = create_engine(CRM_WRITER_URL)
    try:
        with writer.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {source}_orders SELECT g, 'c' || g, g * 1.25, true, {updated_at_sql} "
                    f"FROM generate_series({first}, {last}) g"
                )
            )
    finally:
        writer.dispose()
