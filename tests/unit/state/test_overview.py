"""state/overview.py and `ingest status` on an SQLite control DB: each entity's latest run and latest checked run,
the state (ok, late, failing, never), open alerts since the last success, on call, and one entity's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, update

from ingestion.config.loader import load_configs
from ingestion.config.oncall import load_oncall
from ingestion.state import alerts
from ingestion.state.overview import entity_facts, entity_history
from ingestion.state.store import ControlStore, PublishRecord, RunRecord
from ingestion.state.tables import check_results, entity_runs
from ingestion.status import entity_statuses

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "include" / "source_configs"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> ControlStore:
    return ControlStore(create_engine(f"sqlite:///{tmp_path / 'control.db'}")).ensure_schema()


def _commit(store: ControlStore, entity: str, run_id: str, rows: int, at: datetime, mark: str | None = None) -> None:
    record = RunRecord(
        source="crm", entity=entity, run_id=run_id, dag_id="ingest_crm", load_mode="incremental", rows_landed=rows
    )
    current = store.get_watermark("crm", entity)
    expected = current.value if current else None
    store.commit_run(record, new_watermark=mark, move_watermark=mark is not None, expected_watermark=expected)
    _at(store.engine, entity, run_id, at)


def _at(engine: Engine, entity: str, run_id: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(entity_runs)
            .where(entity_runs.c.entity == entity, entity_runs.c.run_id == run_id)
            .values(committed_at=at)
        )
        conn.execute(
            update(check_results)
            .where(check_results.c.entity == entity, check_results.c.run_id == run_id)
            .values(checked_at=at - timedelta(minutes=1))
        )


def _check(
    store: ControlStore,
    entity: str,
    run_id: str,
    passed: bool,
    severity: str = "error",
    tries: int = 1,
    at: datetime | None = None,
) -> None:
    """Record one check result of the run (checked now, or at `at`)."""
    result = {"name": "unique(customer_id)", "kind": "unique", "passed": passed, "severity": severity, "detail": "d"}
    store.record_checks("crm", entity, run_id, tries, [result])
    if at is not None:
        with store.engine.begin() as conn:
            conn.execute(update(check_results).where(check_results.c.run_id == run_id).values(checked_at=at))


def _alert(store: ControlStore, entity: str, kind: str, at: datetime, channel: str = "teams") -> None:
    alerts.add(
        store.engine,
        {
            "dedup_key": f"{kind}|crm|{entity}|{at.isoformat()}",
            "kind": kind,
            "severity": "high",
            "source": "crm",
            "entity": entity,
            "channel": channel,
            "status": "sent",
            "reason": None,
            "alert": {},
            "created_at": at,
        },
    )


def test_the_latest_run_and_the_latest_checked_runs_last_attempt(store: ControlStore) -> None:
    for day in range(5):
        run_id = f"scheduled_{day}"
        _check(store, "customers", run_id, passed=True)
        _commit(store, "customers", run_id, 100 + day, NOW - timedelta(days=5 - day), mark=f"2026-11-2{day}")
    # The run after them failed validation on its first try and passed on its second.
    _check(store, "customers", "scheduled_5", passed=False, tries=1)
    _check(store, "customers", "scheduled_5", passed=True, tries=2)
    # orders: its latest run failed a warn check and committed; nothing of customers leaks into it.
    _check(store, "orders", "o1", passed=False, severity="warn")
    _commit(store, "orders", "o1", 7, NOW - timedelta(hours=2))

    facts = entity_facts(store.engine, [("crm", "customers"), ("crm", "orders"), ("crm", "gone")], NOW)

    customers = facts[("crm", "customers")]
    assert customers.latest_run is not None
    assert (customers.latest_run.run_id, customers.latest_run.rows_landed) == ("scheduled_4", 104)
    assert customers.checked_run_id == "scheduled_5"
    assert customers.failing_checks == []  # the second attempt passed
    assert customers.watermark == "2026-11-24"
    orders = facts[("crm", "orders")]
    assert [c["check_name"] for c in orders.failing_checks] == ["unique(customer_id)"]
    assert facts[("crm", "gone")].latest_run is None


def test_states_alerts_and_on_call_of_the_sample_crm_config(store: ControlStore) -> None:
    config = load_configs(CONFIGS, "dev").configs["crm"]
    _check(store, "customers", "good", passed=True)
    _commit(store, "customers", "good", 200, NOW - timedelta(hours=3), mark="2026-12-02T08:00:00+00:00")
    # orders succeeded yesterday, then a run failed its unique check (an error): it never committed.
    _commit(store, "orders", "yesterday", 85, NOW - timedelta(days=1))
    _check(store, "orders", "today", passed=False)
    # One alert before the last success (closed), two after it (open), one of them on two channels.
    _alert(store, "orders", "failure", NOW - timedelta(days=2))
    _alert(store, "orders", "failure", NOW - timedelta(hours=1))
    _alert(store, "orders", "failure", NOW - timedelta(hours=1), channel="slack")
    _alert(store, "orders", "retry", NOW - timedelta(hours=2))
    _alert(store, "orders", "summary", NOW - timedelta(minutes=5))  # a digest repeats alerts already counted

    statuses = {s.entity: s for s in entity_statuses([config], store, now=NOW, oncall=load_oncall(CONFIGS))}

    customers, orders = statuses["customers"], statuses["orders"]
    assert (customers.state, customers.rows, customers.age, customers.open_alerts) == ("ok", 200, "3h00m", 0)
    assert customers.watermark == "2026-12-02T08:00:00+00:00"
    assert (orders.state, orders.failing_checks, orders.open_alerts) == ("failing", ["unique(customer_id) [error]"], 2)
    # The rotation in _oncall.json: crm-data hands over on Mondays from 2026-11-02 (ana.lima, bo.chen, ...): week 5.
    assert (orders.team, orders.kind, orders.on_call) == ("crm-data", "sql", "ana.lima@example.com")
    assert orders.age_seconds == 86400


def test_never_and_late(store: ControlStore) -> None:
    config = load_configs(CONFIGS, "dev").configs["crm"]
    _commit(store, "customers", "old", 1, NOW - timedelta(days=3))
    statuses = {s.entity: s.state for s in entity_statuses([config], store, now=NOW)}
    assert statuses == {"customers": "late", "orders": "never"}


def test_a_failed_check_before_the_last_success_does_not_make_the_entity_failing(store: ControlStore) -> None:
    config = load_configs(CONFIGS, "dev").configs["crm"]
    _check(store, "orders", "failed", passed=False, at=NOW - timedelta(hours=2))
    _commit(store, "orders", "failed_then_fixed", 5, NOW - timedelta(hours=1))  # e.g. a full refresh by hand
    statuses = {s.entity: s for s in entity_statuses([config], store, now=NOW)}
    assert statuses["orders"].state == "ok"
    assert statuses["orders"].failing_checks == ["unique(customer_id) [error]"]  # still shown: the latest checked


def test_entity_history_lists_runs_checks_watermark_changes_and_waiting_landings(store: ControlStore) -> None:
    for day in range(3):
        _check(store, "customers", f"r{day}", passed=True)
        _commit(store, "customers", f"r{day}", day, NOW - timedelta(days=3 - day), mark=f"m{day}")
    _check(store, "customers", "r3", passed=False)  # validation stopped it
    store.begin_publish(
        PublishRecord(
            source="crm",
            entity="customers",
            run_id="r4",
            landing_id="l4",
            manifest="m.json",
            topic="t",
            moves_watermark=True,
        )
    )
    history = entity_history(store.engine, "crm", "customers", limit=2)
    assert [r["run_id"] for r in history.runs] == ["r2", "r1"]
    assert list(history.checks_by_run) == ["r3", "r2"]
    assert history.checks_by_run["r3"][0]["passed"] is False
    assert [(w["old_value"], w["new_value"]) for w in history.watermark_changes] == [("m1", "m2"), ("m0", "m1")]
    assert history.watermark_changes[0]["changed_by"] == "airflow:ingest_crm"
    assert [w["run_id"] for w in history.waiting] == ["r4"]
