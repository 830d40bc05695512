"""Release records on the control DB's schema (embedded SQLite here; the deploy test runs them on Postgres)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from ingestion.state import releases
from ingestion.state.schema import upgrade


def _record(environment: str, version: str, target: str = "local") -> releases.ReleaseRecord:
    return releases.ReleaseRecord(
        environment=environment,
        target=target,
        version=version,
        commit_sha="abc",
        image=None,
        deployed_by="ana",
        approved_by="bo",
        changes={"sources_added": {"crm": ["customers"]}},
        configs={"crm": {"name": "crm"}},
    )


def test_the_running_release_is_the_last_deployed_one_of_its_environment_and_target(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'control.db'}")
    upgrade(engine)
    assert releases.last_deployed(engine, "dev", "local") is None
    first = releases.open_release(engine, _record("dev", "v1"))
    releases.close_release(engine, first, releases.DEPLOYED)
    failed = releases.open_release(engine, _record("dev", "v2"))
    releases.close_release(engine, failed, releases.ROLLED_BACK, "smoke: run failed")
    other = releases.open_release(engine, _record("prod", "v9"))
    releases.close_release(engine, other, releases.DEPLOYED)
    helm = releases.open_release(engine, _record("dev", "v8", target="helm"))
    releases.close_release(engine, helm, releases.DEPLOYED)

    running = releases.last_deployed(engine, "dev", "local")
    assert running is not None
    assert (running.version, running.configs, running.approved_by) == ("v1", {"crm": {"name": "crm"}}, "bo")
    rolled_back = releases.release(engine, failed)
    assert rolled_back is not None
    assert (rolled_back.status, rolled_back.detail) == (releases.ROLLED_BACK, "smoke: run failed")
    assert rolled_back.finished_at is not None
    assert [r.version for r in releases.history(engine, "dev")] == ["v8", "v2", "v1"]


def test_a_release_ends_only_as_an_outcome(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'control.db'}")
    upgrade(engine)
    opened = releases.open_release(engine, _record("dev", "v1"))
    assert releases.release(engine, opened).status == releases.DEPLOYING  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="ends as one of"):
        releases.close_release(engine, opened, releases.DEPLOYING)


def test_history_and_show_read_the_records_without_deploying(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingestion.release.deploy import show_history, show_release

    engine = create_engine(f"sqlite:///{tmp_path / 'control.db'}")
    upgrade(engine)
    opened = releases.open_release(engine, _record("prod", "v7", target="helm"))
    releases.close_release(engine, opened, releases.DEPLOYED)
    assert show_history(engine, "prod", 5) == 0
    line = capsys.readouterr().out.strip()
    assert line.split()[3:7] == ["prod", "helm", "deployed", "v7"]
    assert line.endswith("by ana, approved by bo")
    assert show_release(engine, opened) == 0
    shown = capsys.readouterr().out
    assert "| Approved by | bo |" in shown
    assert "+ source crm (entities: customers)" in shown
    assert show_release(engine, opened + 1) == 2
