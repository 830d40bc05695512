"""A watermark set by hand meets the next run's commit on the stack's control DB: the compare-and-set must see the
value the operator meant, whatever ISO form was typed, and whether it was stored before or after normalisation."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.state.engine import control_engine
from ingestion.state.errors import WatermarkConflictError
from ingestion.state.store import CommitOutcome, ControlStore, RunRecord
from ingestion.state.watermark_values import decode, encode
from tests.integration.support import REPO, write_configs


@pytest.fixture
def store() -> Iterator[ControlStore]:
    engine = control_engine()
    assert engine.dialect.name == "postgresql"  # the stack's control DB, as the CLI and the runs use it
    yield ControlStore(engine).ensure_schema()
    engine.dispose()


@pytest.fixture
def source(tmp_path: Path) -> tuple[str, Path]:
    """A source of its own (the control DB is shared): the sample CRM config under a unique name."""
    name = f"wm{uuid.uuid4().hex[:10]}"
    crm = json.loads((REPO / "include" / "source_configs" / "crm.json").read_text())
    return name, write_configs(tmp_path / "configs", dict(crm, name=name))


def _run(source: str, run_id: str) -> RunRecord:
    return RunRecord(
        source=source, entity="customers", run_id=run_id, dag_id=f"ingest_{source}", load_mode="incremental"
    )


def _starting_watermark(store: ControlStore, source: str) -> str | None:
    """What a run's extract_land hands to commit as `watermark_from`: the stored value, decoded and encoded again."""
    mark = store.get_watermark(source, "customers")
    assert mark is not None
    return encode(decode(mark.value, mark.value_type))


def test_a_watermark_set_with_z_lets_the_next_run_commit(store: ControlStore, source: tuple[str, Path]) -> None:
    name, config_dir = source
    done = subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(config_dir), "--env", "dev", "watermark", "set", name,
         "customers", "2026-11-03T02:00:00Z", "--reason", "start after the migration"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    start = _starting_watermark(store, name)
    assert start == "2026-11-03T02:00:00+00:00"
    outcome = store.commit_run(
        _run(name, "scheduled__1"),
        new_watermark="2026-11-04T02:00:00+00:00",
        value_type="timestamp",
        expected_watermark=start,
    )
    assert outcome is CommitOutcome.COMMITTED
    assert f"{name}.customers watermark is now '2026-11-03T02:00:00+00:00'" in done.stdout
    assert store.get_watermark(name, "customers").value == "2026-11-04T02:00:00+00:00"  # type: ignore[union-attr]


@pytest.mark.parametrize("by_hand", ["2026-11-03T03:00:00+01:00", "2026-11-03T02:00:00Z", "2026-11-03T02:00:00"])
def test_a_value_stored_unnormalised_before_the_fix_does_not_conflict_forever(
    store: ControlStore, source: tuple[str, Path], by_hand: str
) -> None:
    name, _ = source
    store.set_watermark(name, "customers", by_hand, value_type="timestamp", reason="set by hand", changed_by="ops")
    start = _starting_watermark(store, name)
    assert start == "2026-11-03T02:00:00+00:00"
    outcome = store.commit_run(
        _run(name, "scheduled__1"), new_watermark="2026-11-04T02:00:00+00:00", expected_watermark=start
    )
    assert outcome is CommitOutcome.COMMITTED
    history = store.history(name, "customers")
    assert next((h.old_value, h.new_value) for h in history) == (by_hand, "2026-11-04T02:00:00+00:00")


def test_a_watermark_really_moved_since_the_run_read_it_still_conflicts(
    store: ControlStore, source: tuple[str, Path]
) -> None:
    name, _ = source
    store.set_watermark(name, "customers", "2026-11-03T03:00:00Z", reason="moved by hand", changed_by="ops")
    with pytest.raises(WatermarkConflictError):
        store.commit_run(
            _run(name, "scheduled__1"),
            new_watermark="2026-11-04T02:00:00+00:00",
            expected_watermark="2026-11-03T02:00:00+00:00",
        )
    assert store.get_watermark(name, "customers").value == "2026-11-03T03:00:00Z"  # type: ignore[union-attr]
