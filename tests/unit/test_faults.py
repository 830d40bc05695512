"""Fault points: inert without INGEST_FAULT_DIR; armed by a file, they fire once past their progress threshold."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from ingestion.errors import InjectedFaultError
from ingestion.faults import FAULT_DIR_ENV, fault_point


def test_without_the_variable_nothing_fires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FAULT_DIR_ENV, raising=False)
    (tmp_path / "land.batch").write_text('{"action": "raise"}')
    fault_point("land.batch", "crm.orders")  # no error


def test_an_armed_fault_fires_once_for_its_entity_after_its_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_DIR_ENV, str(tmp_path))
    (tmp_path / "land.batch@crm.orders").write_text(json.dumps({"action": "raise", "after": 100}))
    fault_point("land.batch", "crm.customers", progress=500)  # another entity
    fault_point("land.batch", "crm.orders", progress=50)  # not yet
    with pytest.raises(InjectedFaultError, match=r"land\.batch for crm\.orders"):
        fault_point("land.batch", "crm.orders", progress=100)
    fault_point("land.batch", "crm.orders", progress=200)  # once: disarmed


def test_a_fault_armed_for_a_partition_fires_in_that_partition_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_DIR_ENV, str(tmp_path))
    (tmp_path / "land.batch@crm.orders.p1").write_text(json.dumps({"action": "raise"}))
    fault_point("land.batch", "crm.orders", partition=0)
    fault_point("land.batch", "crm.orders")  # the entity's unpartitioned read
    with pytest.raises(InjectedFaultError):
        fault_point("land.batch", "crm.orders", partition=1)


def test_a_pause_waits_until_its_marker_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_DIR_ENV, str(tmp_path))
    (tmp_path / "publish.committed").write_text(json.dumps({"action": "pause"}))
    done = threading.Event()
    worker = threading.Thread(target=lambda: (fault_point("publish.committed", "crm.orders"), done.set()))
    worker.start()
    marker = tmp_path / "publish.committed.paused"
    while not marker.exists():
        time.sleep(0.01)
    assert not done.is_set()
    marker.unlink()
    worker.join(timeout=10)
    assert done.is_set()
