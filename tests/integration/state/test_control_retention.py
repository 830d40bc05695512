"""Retention of the control database's rows, on the stack's Postgres, through `scripts/ingest retention`: run records,
check results, processed-file entries and boundary keys older than `retention.control_days` go, except an entity's
newest run, the run its watermark names (with its boundary keys) and each file's latest entry; a dry run deletes
nothing; a re-run deletes nothing more. The source's containers do not exist: the lake has nothing to say about it, and
that is no error."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from ingestion.state.engine import control_engine
from ingestion.state.retention_log import actions_of
from ingestion.state.tables import boundary_keys, check_results, entity_runs, processed_files, watermarks
from tests.integration.support import retention_cli

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "include" / "source_configs"
TODAY = date(2026, 12, 2)
NOW = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
CUTOFF = TODAY - timedelta(days=400)  # control_days 400, longer than archive_days 365


def _ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def engine() -> Engine:
    made = control_engine(allow_embedded=False)
    yield made
    made.dispose()


@pytest.fixture
def source(engine: Engine, tmp_path: Path) -> tuple[str, Path]:
    name = f"retdb_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "source_configs"
    folder.mkdir()
    (folder / "_defaults.json").write_text((CONFIGS / "_defaults.json").read_text())
    crm = json.loads((CONFIGS / "crm.json").read_text())
    tag = uuid.uuid4().hex[:8]
    config = {
        **crm,
        "name": name,
        "landing": {
            "conn_id": "lake_wasb",
            "container": f"none{tag}",
            "format": "parquet",
            "sensitive_container": f"none{tag}-pii",
        },
        "retention": {"raw_days": 30, "archive_days": 365, "control_days": 400},
    }
    (folder / f"{name}.json").write_text(json.dumps(config))

    def run(entity: str, run_id: str, age: int) -> dict[str, object]:
        return {
            "source": name, "entity": entity, "run_id": run_id, "dag_id": f"ingest_{name}", "load_mode": "incremental",
            "files": [], "check_results": [], "moved_watermark": True, "committed_at": _ago(age),
        }  # fmt: skip

    def check(age: int) -> dict[str, object]:
        return {
            "source": name, "entity": "customers", "run_id": f"r{age}", "check_name": "not_null", "kind": "not_null",
            "severity": "error", "passed": True, "detail": "", "observed": {}, "checked_at": _ago(age),
        }  # fmt: skip

    def entry(file_name: str, mtime_age: int, age: int) -> dict[str, object]:
        return {
            "source": name, "entity": "customers", "file_name": file_name, "mtime": _ago(mtime_age), "size": 1,
            "rows": 1, "run_id": f"r{age}", "processed_at": _ago(age),
        }  # fmt: skip

    def keys(run_id: str, age: int) -> list[dict[str, object]]:
        return [
            {"source": name, "entity": "customers", "run_id": run_id, "cursor_value": "x", "row_key": f"[{k}]",
             "recorded_at": _ago(age)}
            for k in range(2)
        ]  # fmt: skip

    with engine.begin() as conn:
        conn.execute(
            insert(boundary_keys),
            [
                *keys("old-450-watermark", 450),  # stay: the watermark's run's set, the next run leaves them out
                *keys("never-committed-500", 500),  # go: a run that failed and was never run again
                *keys("uncommitted-3", 3),  # stay: young (a run still going)
            ],
        )
        conn.execute(
            insert(entity_runs),
            [
                run("customers", "old-500", 500),  # goes
                run("customers", "old-450-watermark", 450),  # stays: the watermark names it
                run("customers", "old-410", 410),  # goes
                run("customers", "recent-10", 10),  # stays: young, and the newest
                run("orders", "old-600", 600),  # goes
                run("orders", "old-500-newest", 500),  # stays: the entity's newest run, however old
            ],
        )
        conn.execute(
            insert(watermarks).values(
                source=name, entity="customers", value="x", value_type="timestamp", run_id="old-450-watermark",
                updated_at=_ago(450),
            )
        )  # fmt: skip
        conn.execute(insert(check_results), [check(500), check(401), check(399), check(1)])  # the first two go
        conn.execute(
            insert(processed_files),
            [
                entry("a.csv", 520, 500),  # goes: a.csv was loaded again since, with a newer mtime
                entry("a.csv", 460, 450),  # stays: a.csv's latest entry
                entry("b.csv", 510, 500),  # stays: b.csv's only entry
                entry("c.csv", 460, 450),  # goes
                entry("c.csv", 6, 5),
            ],
        )
    return name, folder


def _counts(engine: Engine, name: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(
                conn.execute(select(func.count()).select_from(table).where(table.c.source == name)).scalar_one()
            )
            for table in (entity_runs, check_results, processed_files, boundary_keys)
        }


def _plan(stdout: str) -> list[str]:
    """The plan's lines and its summary (without whatever Airflow logs to standard output)."""
    return [line for line in stdout.splitlines() if line.startswith(PLAN_LINE_STARTS)]


PLAN_LINE_STARTS = ("archive ", "delete ", "hold ", "prune ", "applied: ", "dry run, nothing changed: ")


def test_old_control_db_rows_go_and_the_ones_that_still_decide_stay(engine: Engine, source: tuple[str, Path]) -> None:
    name, folder = source
    before = _counts(engine, name)
    assert before == {
        "ingest_entity_run": 6,
        "ingest_check_result": 4,
        "ingest_processed_file": 5,
        "ingest_boundary_key": 6,
    }
    reason = "retention.control_days is 400, never fewer than the lake keeps: 400"
    expected = {
        f"prune ingest_entity_run of {name}.customers: 2 row(s) from before {CUTOFF} ({reason})",
        f"prune ingest_check_result of {name}.customers: 2 row(s) from before {CUTOFF} ({reason})",
        f"prune ingest_processed_file of {name}.customers: 2 row(s) from before {CUTOFF} ({reason})",
        f"prune ingest_boundary_key of {name}.customers: 2 row(s) from before {CUTOFF} ({reason})",
        f"prune ingest_entity_run of {name}.orders: 1 row(s) from before {CUTOFF} ({reason})",
    }

    dry = retention_cli(folder, TODAY, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert set(_plan(dry.stdout)[:-1]) == expected
    assert _plan(dry.stdout)[-1].endswith("; prune 9 control DB row(s)")
    assert _counts(engine, name) == before

    applied = retention_cli(folder, TODAY, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert set(_plan(applied.stdout)[:-1]) == expected
    assert _counts(engine, name) == {
        "ingest_entity_run": 3,
        "ingest_check_result": 2,
        "ingest_processed_file": 3,
        "ingest_boundary_key": 4,
    }
    with engine.connect() as conn:
        kept_runs = conn.execute(select(entity_runs.c.run_id).where(entity_runs.c.source == name)).scalars().all()
        kept_entries = conn.execute(
            select(processed_files.c.file_name, processed_files.c.run_id).where(processed_files.c.source == name)
        ).all()
        kept_sets = (
            conn.execute(select(boundary_keys.c.run_id).where(boundary_keys.c.source == name).distinct())
            .scalars()
            .all()
        )
    assert sorted(kept_runs) == ["old-450-watermark", "old-500-newest", "recent-10"]
    assert sorted(kept_sets) == ["old-450-watermark", "uncommitted-3"]
    assert sorted(map(tuple, kept_entries)) == [("a.csv", "r450"), ("b.csv", "r500"), ("c.csv", "r5")]
    recorded = sorted(
        (a.entity, a.location, a.items, a.zone, a.partition_day) for a in actions_of(engine) if a.source == name
    )
    assert recorded == [
        ("customers", "ingest_boundary_key", 2, "control_db", f"{CUTOFF}"),
        ("customers", "ingest_check_result", 2, "control_db", f"{CUTOFF}"),
        ("customers", "ingest_entity_run", 2, "control_db", f"{CUTOFF}"),
        ("customers", "ingest_processed_file", 2, "control_db", f"{CUTOFF}"),
        ("orders", "ingest_entity_run", 1, "control_db", f"{CUTOFF}"),
    ]

    again = retention_cli(folder, TODAY, "--apply")
    assert again.returncode == 0, again.stderr
    assert _plan(again.stdout) == [
        "applied: archive 0 partition(s), 0 bytes; delete 0 partition(s), 0 bytes; held back 0 partition(s); "
        "prune 0 control DB row(s)"
    ]
    assert len([a for a in actions_of(engine) if a.source == name]) == 5
