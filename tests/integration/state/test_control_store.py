"""The control store on the stack's Postgres (through the Airflow connection) and on embedded SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from ingestion.state.engine import control_db_url
from ingestion.state.errors import WatermarkConflictError
from ingestion.state.store import CommitOutcome, ControlStore, RunRecord


@pytest.fixture(params=["postgres", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ControlStore]:
    if request.param == "postgres":
        url = control_db_url()  # resolves the control_db Airflow connection from .stack/env
        assert url.startswith("postgresql+psycopg://"), url
    else:
        url = f"sqlite:///{tmp_path / 'control.db'}"
    engine: Engine = create_engine(url)
    yield ControlStore(engine).ensure_schema()
    engine.dispose()


def _source() -> str:
    return f"t{uuid.uuid4().hex[:10]}"  # each test its own source: Postgres is shared between tests


def _record(source: str, run_id: str, rows: int = 10) -> RunRecord:
    return RunRecord(
        source=source,
        entity="orders",
        run_id=run_id,
        dag_id=f"ingest_{source}",
        load_mode="incremental",
        window_start="2026-11-01T00:00:00+00:00",
        window_end="2026-11-02T00:00:00+00:00",
        rows_extracted=rows,
        rows_landed=rows,
        rows_published=rows,
        bytes_landed=1234,
        seconds_extract_land=1.5,
        files=["landing/x/orders/date=2026-11-02/x_orders_20261102000000.parquet"],
        check_results=[{"check": "unique", "status": "passed"}],
    )


def test_commit_moves_the_watermark_and_writes_run_and_history(store: ControlStore) -> None:
    source = _source()
    assert store.get_watermark(source, "orders") is None
    outcome = store.commit_run(_record(source, "run-1"), new_watermark="2026-11-02T00:00:00+00:00")
    assert outcome is CommitOutcome.COMMITTED
    mark = store.get_watermark(source, "orders")
    assert mark is not None
    assert (mark.value, mark.run_id) == ("2026-11-02T00:00:00+00:00", "run-1")
    (entry,) = store.history(source, "orders")
    assert (entry.old_value, entry.new_value, entry.reason) == (None, "2026-11-02T00:00:00+00:00", "run run-1")
    assert entry.changed_by == f"airflow:ingest_{source}"
    (run,) = store.runs(source, "orders")
    assert (run.rows_landed, run.bytes_landed, run.moved_watermark) == (10, 1234, True)
    assert run.files == ["landing/x/orders/date=2026-11-02/x_orders_20261102000000.parquet"]
    assert run.check_results == [{"check": "unique", "status": "passed"}]


def test_second_run_history_shows_both_and_a_recommit_changes_nothing(store: ControlStore) -> None:
    source = _source()
    store.commit_run(_record(source, "run-1"), new_watermark="A")
    store.commit_run(_record(source, "run-2"), new_watermark="B", expected_watermark="A")
    again = store.commit_run(_record(source, "run-2", rows=99), new_watermark="C", expected_watermark="B")
    assert again is CommitOutcome.ALREADY_COMMITTED
    assert store.get_watermark(source, "orders").value == "B"  # type: ignore[union-attr]
    assert [(h.old_value, h.new_value) for h in store.history(source)] == [("A", "B"), (None, "A")]
    assert [r.rows_landed for r in store.runs(source)] == [10, 10]


def test_commit_refuses_a_watermark_moved_since_the_run_read_it(store: ControlStore) -> None:
    source = _source()
    store.commit_run(_record(source, "run-1"), new_watermark="A")
    store.set_watermark(source, "orders", "Z", reason="manual fix", changed_by="ops")
    with pytest.raises(WatermarkConflictError, match="is 'Z', but this change expected 'A'"):
        store.commit_run(_record(source, "run-2"), new_watermark="B", expected_watermark="A")
    assert store.get_watermark(source, "orders").value == "Z"  # type: ignore[union-attr]
    assert [r.run_id for r in store.runs(source)] == ["run-1"]  # the refused run left no record


def test_backfill_commit_records_the_run_but_leaves_the_watermark(store: ControlStore) -> None:
    source = _source()
    store.commit_run(_record(source, "live"), new_watermark="LIVE")
    store.commit_run(_record(source, "backfill__2026-10-01"), move_watermark=False)
    assert store.get_watermark(source, "orders").value == "LIVE"  # type: ignore[union-attr]
    assert len(store.history(source)) == 1
    assert [r.moved_watermark for r in store.runs(source)] == [False, True]


def test_reset_needs_a_reason_and_is_audited(store: ControlStore) -> None:
    source = _source()
    store.commit_run(_record(source, "run-1"), new_watermark="A")
    with pytest.raises(ValueError, match="needs a reason"):
        store.set_watermark(source, "orders", None, reason=" ", changed_by="ops")
    store.set_watermark(source, "orders", None, reason="reload after upstream fix", changed_by="ana")
    assert store.get_watermark(source, "orders").value is None  # type: ignore[union-attr]
    latest = store.history(source)[0]
    assert (latest.old_value, latest.new_value, latest.changed_by) == ("A", None, "ana")
    assert latest.reason == "reload after upstream fix"


def test_concurrent_commits_of_one_run_record_it_once(store: ControlStore) -> None:
    source = _source()
    store.commit_run(_record(source, "seed"), new_watermark="A")

    def commit() -> str:
        try:
            return store.commit_run(_record(source, "dup"), new_watermark="B", expected_watermark="A").value
        except Exception as exc:  # noqa: BLE001 - the loser may see a conflict or a unique violation
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda _: commit(), range(2)))
    assert "committed" in outcomes
    assert [r.run_id for r in store.runs(source)].count("dup") == 1
    assert store.get_watermark(source, "orders").value == "B"  # type: ignore[union-attr]
