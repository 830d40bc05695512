"""Retention on the stack's Azurite and control database, over 400 days of `date=` partitions of three sources with
their own retention: a dry run prints the plan and changes nothing, the DAG's apply does exactly that plan and
records it, a second apply does nothing more, and partitions of runs not committed and each entity's newest committed
partition stay whatever their age.

Each test run has containers of its own and source names of its own, so other tests (and earlier runs) never meet its
blobs or its run records.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from ingestion.land.lake import Lake
from ingestion.land.landing_facts import LandingFacts
from ingestion.land.parquet_lander import LandedFile, LandingManifest
from ingestion.land.paths import LandingPaths
from ingestion.pipeline.record_landing import quarantine_path
from ingestion.retention_dag import run_daily_retention
from ingestion.state.engine import control_engine
from ingestion.state.retention_log import actions_of
from ingestion.state.tables import entity_runs
from tests.integration.support import retention_cli

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "include" / "source_configs"
TODAY = date(2026, 12, 2)
DAYS = 400
ENTITY = "customers"


@dataclass(frozen=True)
class SourceLayout:
    source: str
    retention: dict[str, int]
    days: range  # the ages (days before TODAY) that have a partition
    sensitive: bool  # also sensitive and quarantine partitions


@dataclass(frozen=True)
class Expected:
    archive: set[str]  # partition locations
    delete: set[str]
    hold: set[str]


@pytest.fixture(scope="module")
def tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def containers(tag: str) -> tuple[str, str]:
    return f"ret{tag}", f"ret{tag}-pii"


@pytest.fixture(scope="module")
def layouts(tag: str) -> list[SourceLayout]:
    return [
        # Defaults: hot 30 days, archive to 365, sensitive 30, quarantine 14; raw PII beside it.
        SourceLayout(
            f"reta_{tag}",
            {"raw_days": 30, "archive_days": 365, "sensitive_days": 30, "quarantine_days": 14},
            range(0, DAYS, 3),
            True,
        ),
        # Short periods.
        SourceLayout(
            f"retb_{tag}",
            {"raw_days": 7, "archive_days": 90, "sensitive_days": 7, "quarantine_days": 7},
            range(0, DAYS, 5),
            False,
        ),
        # Quiet for 100 days: its newest partition, past every period, stays.
        SourceLayout(
            f"retc_{tag}",
            {"raw_days": 10, "archive_days": 60, "sensitive_days": 10, "quarantine_days": 10},
            range(100, DAYS, 4),
            False,
        ),
    ]


# Partitions of runs that never committed: a second run's manifest not committed, and a crashed run's part with no
# manifest. Both are old enough to delete.
UNCOMMITTED_RUN_AGE = 201
CRASHED_RUN_AGE = 381


def _day(age: int) -> date:
    return TODAY - timedelta(days=age)


def _stamp(age: int, hour: int = 2) -> datetime:
    day = _day(age)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _write_configs(folder: Path, layouts: list[SourceLayout], containers: tuple[str, str]) -> None:
    folder.mkdir()
    (folder / "_defaults.json").write_text((CONFIGS / "_defaults.json").read_text())
    crm = json.loads((CONFIGS / "crm.json").read_text())
    for layout in layouts:
        config = {
            **crm,
            "name": layout.source,
            "entities": [e for e in crm["entities"] if e["name"] == ENTITY],
            "landing": {
                "conn_id": "lake_wasb",
                "container": containers[0],
                "format": "parquet",
                "sensitive_container": containers[1],
            },
            "retention": layout.retention,
        }
        (folder / f"{layout.source}.json").write_text(json.dumps(config, indent=2))


def _land_run(lake: Lake, paths: LandingPaths, run_id: str, *, manifest: bool = True) -> None:
    part = paths.part(0)
    data = f"{run_id}\n".encode()
    lake.put(part, data)
    if manifest:
        landed = LandingManifest(
            source=paths.source,
            entity=paths.entity,
            run_id=run_id,
            container=paths.container,
            format="parquet",
            window="",
            rows=1,
            bytes=len(data),
            schema_fingerprint="test",
            files=[LandedFile(part, 1, len(data))],
            landed_at=paths.stamp.isoformat(),
            facts=LandingFacts(),
            landing_id=uuid.uuid4().hex,
        )
        lake.put(paths.manifest, landed.to_json().encode())


def _commit(engine: Engine, source: str, run_ids: list[str]) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(entity_runs),
            [
                {
                    "source": source,
                    "entity": ENTITY,
                    "run_id": run_id,
                    "dag_id": f"ingest_{source}",
                    "load_mode": "incremental",
                    "try_number": 1,
                    "files": [],
                    "check_results": [],
                    "moved_watermark": False,
                    "committed_at": now,
                }
                for run_id in run_ids
            ],
        )


def _expected(layouts: list[SourceLayout], containers: tuple[str, str]) -> Expected:
    """The plan worked out from the layout by hand, independently of the planner."""
    archive: set[str] = set()
    delete: set[str] = set()
    hold: set[str] = set()
    landing, sensitive = containers
    for layout in layouts:
        r = layout.retention
        newest = min(layout.days)
        zones = [(f"{landing}/{layout.source}/{ENTITY}/", r["raw_days"], r["archive_days"])]
        if layout.sensitive:
            zones += [
                (f"{sensitive}/{layout.source}/{ENTITY}/", None, r["sensitive_days"]),
                (f"{sensitive}/{layout.source}/{ENTITY}/_quarantine/", None, r["quarantine_days"]),
            ]
        for folder, archive_after, delete_after in zones:
            for age in layout.days:
                where = f"{folder}date={_day(age):%Y-%m-%d}/"
                acts = age > delete_after or (archive_after is not None and age > archive_after)
                if not acts:
                    continue
                if age == newest or (layout.sensitive and age in (UNCOMMITTED_RUN_AGE, CRASHED_RUN_AGE)):
                    hold.add(where)
                elif age > delete_after:
                    delete.add(where)
                else:
                    archive.add(where)
    return Expected(archive, delete, hold)


@pytest.fixture(scope="module")
def lakes(containers: tuple[str, str]) -> tuple[Lake, Lake]:
    landing, sensitive = Lake.from_conn_id("lake_wasb", containers[0]), Lake.from_conn_id("lake_wasb", containers[1])
    landing.ensure_container()
    sensitive.ensure_container()
    return landing, sensitive


@pytest.fixture(scope="module")
def landed(
    tmp_path_factory: pytest.TempPathFactory,
    layouts: list[SourceLayout],
    containers: tuple[str, str],
    lakes: tuple[Lake, Lake],
) -> Path:
    """The configs' folder, once every source's partitions are landed and their runs committed."""
    folder = tmp_path_factory.mktemp("retention") / "source_configs"
    _write_configs(folder, layouts, containers)
    landing, sensitive = lakes
    engine = control_engine(allow_embedded=False)
    try:
        for layout in layouts:
            committed = []
            for age in layout.days:
                paths = LandingPaths(containers[0], layout.source, ENTITY, _stamp(age))
                run_id = f"scheduled__{paths.stamp.isoformat()}"
                _land_run(landing, paths, run_id)
                committed.append(run_id)
                if layout.sensitive:
                    _land_run(sensitive, LandingPaths(containers[1], layout.source, ENTITY, paths.stamp), run_id)
                    sensitive.put(quarantine_path(paths), b'{"where": "row 1", "reason": "test"}\n')
            if layout.sensitive:
                # A second, manual run on the same day that never committed, and a crashed one with no manifest.
                late = LandingPaths(containers[0], layout.source, ENTITY, _stamp(UNCOMMITTED_RUN_AGE, hour=9))
                _land_run(landing, late, "manual__not-committed")
                _land_run(sensitive, LandingPaths(containers[1], layout.source, ENTITY, late.stamp), "manual__nc")
                sensitive.put(quarantine_path(late), b'{"where": "row 1", "reason": "test"}\n')
                crashed = LandingPaths(containers[0], layout.source, ENTITY, _stamp(CRASHED_RUN_AGE, hour=9))
                _land_run(landing, crashed, "manual__crashed", manifest=False)
                _land_run(
                    sensitive, LandingPaths(containers[1], layout.source, ENTITY, crashed.stamp), "x", manifest=False
                )
                sensitive.put(quarantine_path(crashed), b'{"where": "row 1", "reason": "test"}\n')
            _commit(engine, layout.source, committed)
    finally:
        engine.dispose()
    return folder


def _inventory(lakes: tuple[Lake, Lake]) -> dict[str, tuple[str | None, int]]:
    """Every blob of the test's containers: its tier and size."""
    return {f"{lake.container}/{b.name}": (b.tier, b.size) for lake in lakes for b in lake.stored("")}


def _folder(name: str) -> str:
    return name.rsplit("/", 1)[0] + "/"


def _bytes(inventory: dict[str, tuple[str | None, int]], locations: set[str], *, archive: bool = False) -> int:
    """The bytes an action on those partitions changes (an archive leaves the manifests hot)."""
    return sum(
        size
        for name, (_, size) in inventory.items()
        if _folder(name) in locations and not (archive and name.endswith("_manifest.json"))
    )


def _plan_lines(stdout: str) -> dict[str, set[str]]:
    lines: dict[str, set[str]] = {"archive": set(), "delete": set(), "hold": set()}
    for line in stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind in lines:
            lines[kind].add(rest.split(" ", 1)[0].rstrip(":"))
    return lines


def test_retention_over_400_days_of_partitions(
    landed: Path,
    layouts: list[SourceLayout],
    containers: tuple[str, str],
    lakes: tuple[Lake, Lake],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = _expected(layouts, containers)
    sources = {layout.source for layout in layouts}
    assert len(expected.archive) > 50
    assert len(expected.delete) > 50
    before = _inventory(lakes)
    assert len(before) > 900

    # A dry run prints exactly the plan and changes nothing, in the lake or in the control database.
    dry = retention_cli(landed, TODAY, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert _plan_lines(dry.stdout) == {"archive": expected.archive, "delete": expected.delete, "hold": expected.hold}
    assert dry.stdout.splitlines()[-1] == (
        f"dry run, nothing changed: archive {len(expected.archive)} partition(s), "
        f"{_bytes(before, expected.archive, archive=True)} bytes; delete {len(expected.delete)} partition(s), "
        f"{_bytes(before, expected.delete)} bytes; held back {len(expected.hold)} partition(s); "
        "prune 0 control DB row(s)"
    )
    assert _inventory(lakes) == before
    engine = control_engine(allow_embedded=False)
    try:
        assert [a for a in actions_of(engine) if a.source in sources] == []

        # The DAG's task applies that plan and records every change.
        monkeypatch.setenv("INGEST_CONFIG_DIR", str(landed))
        counts = run_daily_retention("scheduled__retention-test", datetime(2026, 12, 2, 2, 30, tzinfo=UTC))
        assert counts == {
            "archived": len(expected.archive),
            "deleted": len(expected.delete),
            "bytes": _bytes(before, expected.archive, archive=True) + _bytes(before, expected.delete),
            "held": len(expected.hold),
            "rows_pruned": 0,  # every run record is younger than control_days
        }
        after = _inventory(lakes)
        for name, (tier, size) in before.items():
            where = _folder(name)
            if where in expected.delete:
                assert name not in after
            elif where in expected.archive and not name.endswith("_manifest.json"):
                assert after[name] == ("Archive", size), name
            else:
                assert after[name] == (tier, size), name  # held, too young, or a manifest that stays hot
        recorded = [a for a in actions_of(engine, "scheduled__retention-test") if a.source in sources]
        assert {a.location for a in recorded if a.action == "archive"} == expected.archive
        assert {a.location for a in recorded if a.action == "delete"} == expected.delete
        assert len(recorded) == len(expected.archive) + len(expected.delete)
        for action in recorded:
            changed = [n for n in before if n.startswith(action.location)]
            if action.action == "archive":
                changed = [n for n in changed if not n.endswith("_manifest.json")]
            assert action.items == len(changed), action
            assert action.reason.startswith(f"{(TODAY - date.fromisoformat(action.partition_day)).days} days old")

        # Held partitions are whole: every file of the uncommitted runs, and each entity's newest partition.
        for where in expected.hold:
            assert [n for n in before if n.startswith(where)] == [n for n in after if n.startswith(where)]

        # A second apply, the same day, does nothing more.
        again = retention_cli(landed, TODAY, "--apply")
        assert again.returncode == 0, again.stderr
        assert _plan_lines(again.stdout) == {"archive": set(), "delete": set(), "hold": expected.hold}
        assert "applied: archive 0 partition(s), 0 bytes; delete 0 partition(s), 0 bytes" in again.stdout
        assert _inventory(lakes) == after
        assert len([a for a in actions_of(engine) if a.source in sources]) == len(recorded)
    finally:
        engine.dispose()
