"""What Airflow or Python refuses when a DAG is built is refused when the config is validated, by file and JSON path.

Each case is one change to a copy of crm.json that the models once accepted and that then failed to build the DAG
(Airflow's tag length, owner link and continuous-timetable checks; timedeltas past their range). `scripts/ingest
validate` is pure and never builds a DAG, so without these bounds it said "ok" to a config that has no DAG. The last
test builds a DAG with every bounded value at its maximum: the bounds themselves are safe.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ingestion.config.loader import load_configs
from tests.sample_configs import sample_config_dir

SAMPLES_DIR = sample_config_dir()
# An environment without an overlay: the dev and prod overlays set the retry delays over crm.json's.
ENV = "no-overlay"
# The models' bounds (models.MAX_TAG_CHARS, MAX_MINUTES, MAX_SECONDS, MAX_DAYS), written out: a test of the values.
MAX_TAG_CHARS = 100
MAX_MINUTES = 527_040
MAX_SECONDS = MAX_MINUTES * 60
MAX_DAYS = 36_600
TOO_BIG = 10_000_000_000_000  # minutes: past timedelta's 999999999 days


def _crm() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES_DIR / "crm.json").read_text())
    return data


def _set_tags(crm: dict[str, Any]) -> None:
    crm["tags"] = ["crm", "x" * (MAX_TAG_CHARS + 1)]


def _set_contact(crm: dict[str, Any]) -> None:
    crm["owners"]["contact"] = "http://"


def _set_continuous(crm: dict[str, Any]) -> None:
    crm["schedule"] = "@continuous"
    crm["deadline"] = {}  # finish_by needs a daily schedule: keep this case to one error


def _set(*where: str, value: Any = TOO_BIG) -> Any:
    def change(crm: dict[str, Any]) -> None:
        data = crm
        for step in where[:-1]:
            data = data.setdefault(step, {})
        data[where[-1]] = value

    return change


def _set_lookback(crm: dict[str, Any]) -> None:
    crm["entities"][0]["load"]["lookback_minutes"] = MAX_MINUTES + 1


CASES = [
    ("tag", _set_tags, "$.tags[1]", f"String should have at most {MAX_TAG_CHARS} characters"),
    ("contact", _set_contact, "$.owners.contact", "needs a host"),
    ("continuous", _set_continuous, "$", "schedule @continuous allows one active run"),
    ("deadline", _set("deadline", "expected_duration_minutes"), "$.deadline.expected_duration_minutes", "527040"),
    ("max_delay", _set("retries", "max_delay_minutes"), "$.retries.max_delay_minutes", "527040"),
    ("delay", _set("retries", "delay_seconds"), "$.retries.delay_seconds", "31622400"),
    ("escalate", _set("alerts", "escalate_after_minutes"), "$.alerts.escalate_after_minutes", "527040"),
    ("retention", _set("retention", "control_days"), "$.retention.control_days", "36600"),
    ("lookback", _set_lookback, "$.entities[0].load.lookback_minutes", "527040"),
    ("backoff", _set("retries", "backoff_multiplier", value=1e300), "$.retries.backoff_multiplier", "equal to 10"),
    ("long_run", _set("alerts", "long_run_factor", value=1e300), "$.alerts.long_run_factor", "equal to 100"),
]


@pytest.mark.parametrize(("change", "path", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_value_airflow_would_refuse_is_refused_at_validation(
    tmp_path: Path, change: Any, path: str, expected: str
) -> None:
    folder = tmp_path / "source_configs"
    shutil.copytree(SAMPLES_DIR, folder)
    crm = _crm()
    change(crm)
    (folder / "crm.json").write_text(json.dumps(crm))

    result = load_configs(folder, ENV)

    assert [(Path(e.file).name, e.path) for e in result.errors] == [("crm.json", path)], result.errors
    assert expected in result.errors[0].message
    assert sorted(result.configs) == ["orders_api", "partner_files"]


@pytest.mark.parametrize("contact", ["https://teams.example.com/crm", "http://wiki:8080", "#crm-data", "a@b.example"])
def test_contacts_that_airflow_accepts_still_load(tmp_path: Path, contact: str) -> None:
    folder = tmp_path / "source_configs"
    shutil.copytree(SAMPLES_DIR, folder)
    crm = _crm()
    crm["owners"]["contact"] = contact
    (folder / "crm.json").write_text(json.dumps(crm))

    assert load_configs(folder, ENV).errors == []


def test_continuous_is_accepted_when_no_run_waits_for_the_previous_commit(tmp_path: Path) -> None:
    folder = tmp_path / "source_configs"
    shutil.copytree(SAMPLES_DIR, folder)
    crm = _crm()
    crm.update(schedule="@continuous", deadline={})
    for entity in crm["entities"]:
        entity["load"] = {"mode": "full"}
    (folder / "crm.json").write_text(json.dumps(crm))

    result = load_configs(folder, ENV)

    assert result.errors == []
    from ingestion.builder import build_dag
    from ingestion.planner import plan_source

    assert build_dag(plan_source(result.configs["crm"]), register=False).max_active_runs == 1


def test_a_config_at_every_bound_builds_its_dag(tmp_path: Path) -> None:
    folder = tmp_path / "source_configs"
    shutil.copytree(SAMPLES_DIR, folder)
    crm = _crm()
    crm["tags"] = ["x" * MAX_TAG_CHARS]
    crm["deadline"] = {"expected_duration_minutes": MAX_MINUTES, "finish_by": "04:00"}
    crm["retries"] = {"delay_seconds": MAX_SECONDS, "max_delay_minutes": MAX_MINUTES, "backoff_multiplier": 10}
    crm["alerts"] = {"escalate_after_minutes": MAX_MINUTES, "long_run_factor": 100}
    crm["retention"] = dict.fromkeys(
        ("raw_days", "archive_days", "sensitive_days", "quarantine_days", "control_days"), MAX_DAYS
    )
    crm["entities"][0]["load"].update(lookback_minutes=MAX_MINUTES, safety_margin_seconds=MAX_SECONDS)
    (folder / "crm.json").write_text(json.dumps(crm))

    result = load_configs(folder, ENV)

    assert result.errors == []
    from ingestion.builder import build_dag
    from ingestion.planner import plan_source

    dag = build_dag(plan_source(result.configs["crm"]), register=False)
    assert dag.dag_id == "ingest_crm"
