"""Alert records kept on the machine during a control database outage move into the control store exactly once, and
the channel lock's key is the same in every process. SQLite files stand in for both stores."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select

from ingestion.notify.alert import Alert
from ingestion.notify.delivery import LOCAL_NOTICE, deliver, local_alert_store, move_local_records
from ingestion.notify.dispatch import SENDING, STALE_RESERVATION, _alert_row, dispatch
from ingestion.state.alerts import channel_lock_key
from ingestion.state.store import ControlStore
from ingestion.state.tables import alerts

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _alert(entity: str) -> Alert:
    return Alert(
        kind="failure",
        severity="high",
        title=f"crm.{entity}: extract_land failed",
        source="crm",
        entity=entity,
        dag_id="ingest_crm",
        task_id=f"{entity}.extract_land",
        run_id="r1",
        try_number=1,
        error="",
        owner="ana@example.com",
        secondary_owner=None,
        team="crm-data",
        run_url=None,
        runbook_url=None,
    )


@pytest.fixture
def control(tmp_path: Path) -> ControlStore:
    return ControlStore(create_engine(f"sqlite:///{tmp_path / 'control.db'}")).ensure_schema()


def _rows(store: ControlStore) -> list[tuple[str | None, str, str | None]]:
    with store.engine.connect() as conn:
        found = conn.execute(select(alerts.c.entity, alerts.c.status, alerts.c.reason).order_by(alerts.c.id)).all()
    return [(entity, status, reason) for entity, status, reason in found]


def test_a_move_cut_short_before_the_local_delete_does_not_copy_twice(control: ControlStore, tmp_path: Path) -> None:
    local_path = tmp_path / "fallback.db"
    posts: list[tuple[str, Alert]] = []
    with local_alert_store(local_path) as local:
        for entity in ("orders", "orders", "customers"):
            dispatch(_alert(entity), ("teams",), local, lambda c, a: posts.append((c, a)), NOW, notice=LOCAL_NOTICE)
    assert [a.notice for _, a in posts] == [LOCAL_NOTICE, LOCAL_NOTICE]  # the duplicate was held
    expected = [("orders", "sent", None), ("orders", "held", "duplicate"), ("customers", "sent", None)]
    before_delete = tmp_path / "before.db"
    shutil.copy(local_path, before_delete)

    assert move_local_records(control, local_path, now=NOW) == 3
    assert _rows(control) == expected
    shutil.copy(before_delete, local_path)  # as if the move stopped after the control commit, before the local one
    assert move_local_records(control, local_path, now=NOW) == 3
    assert _rows(control) == expected  # not twice
    assert move_local_records(control, local_path, now=NOW) == 0
    with local_alert_store(local_path) as local:
        assert _rows(local) == []


def test_a_reservation_in_flight_stays_local_until_it_is_stale(control: ControlStore, tmp_path: Path) -> None:
    local_path = tmp_path / "fallback.db"
    with local_alert_store(local_path) as local, local.engine.begin() as conn:
        conn.execute(insert(alerts).values(_alert_row(_alert("orders"), "teams", SENDING, None, NOW)))
    # Its process may still post and confirm it in the local store: moving it now would lose the confirmation.
    assert move_local_records(control, local_path, now=NOW + timedelta(seconds=30)) == 0
    assert move_local_records(control, local_path, now=NOW + STALE_RESERVATION + timedelta(seconds=1)) == 1
    assert _rows(control) == [("orders", SENDING, None)]  # for the digest to report as unconfirmed


def test_the_channel_lock_key_is_the_same_in_every_process_and_fits_a_bigint() -> None:
    assert channel_lock_key("teams_alerts") == channel_lock_key("teams_alerts") != channel_lock_key("slack_alerts")
    assert channel_lock_key("teams_alerts") == 7816887664802746247  # a change would split the lock during a deploy
    assert all(-(2**63) <= channel_lock_key(f"c{i}") < 2**63 for i in range(1000))


def test_a_control_database_that_cannot_be_resolved_counts_as_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.state import engine

    def lookup_failed(explicit: str | None = None) -> str:
        raise RuntimeError("the API server did not answer the connection lookup")

    monkeypatch.setattr(engine, "control_db_url", lookup_failed)
    monkeypatch.setenv("INGEST_ALERT_FALLBACK_DB", str(tmp_path / "fallback.db"))
    posts: list[tuple[str, Alert]] = []
    assert deliver(_alert("orders"), ("teams",), lambda c, a: posts.append((c, a)), NOW) == {"teams": "sent"}
    assert [(c, a.notice) for c, a in posts] == [("teams", LOCAL_NOTICE)]
    with local_alert_store(tmp_path / "fallback.db") as local:
        assert _rows(local) == [("orders", "sent", None)]
