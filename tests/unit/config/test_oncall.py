"""On-call rotations: who is on call at a fixed time (weekly hand-over, holiday overrides), the file's validation and
schema, `ingest oncall`, and how an alert is addressed to the engineer on call (and the lead on a critical incident)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ingestion.config.oncall import Rotation, first_handover, load_oncall, on_call
from ingestion.config.schema import oncall_schema_path, render_oncall_schema
from ingestion.errors import InvalidSourceConfigError
from ingestion.notify.mail import recipients
from ingestion.notify.oncall import addressed, data_loss_suspected
from ingestion.pipeline.errors import CountMismatchError, ValidationFailedError
from ingestion.publish.errors import PublishCountMismatchError
from ingestion.state.errors import WatermarkConflictError
from tests.sample_configs import sample_config_dir
from tests.unit.notify.test_payloads import _alert

REPO = Path(__file__).resolve().parents[3]
CONFIGS = sample_config_dir()
A, B, C, LEAD = "ana@example.com", "bo@example.com", "cy@example.com", "lee@example.com"


def _rotation(**changes: Any) -> Rotation:
    # Monday 09:00 UTC hand-overs; 2026-11-04 is a Wednesday, so the first is Monday 2026-11-09 09:00.
    values: dict[str, Any] = {
        "lead": LEAD,
        "members": [A, B, C],
        "handover": {"weekday": "monday", "time": "09:00"},
        "start": "2026-11-04",
    }
    return Rotation.model_validate(values | changes)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_first_hand_over_is_the_first_weekday_and_time_on_or_after_the_start() -> None:
    assert first_handover(_rotation()) == _at("2026-11-09T09:00")
    assert first_handover(_rotation(start="2026-11-09")) == _at("2026-11-09T09:00")


@pytest.mark.parametrize(
    ("at", "primary", "secondary"),
    [
        ("2026-11-09T09:00", A, B),  # the first hand-over
        ("2026-11-16T08:59", A, B),  # a minute before the next
        ("2026-11-16T09:00", B, C),
        ("2026-11-23T12:00", C, A),  # the backup wraps round
        ("2026-11-30T09:00", A, B),  # and so does the rotation
        ("2026-11-09T08:59", C, A),  # before the first hand-over the last member's week is still running
    ],
)
def test_the_rotation_hands_over_weekly_at_the_set_time(at: str, primary: str, secondary: str) -> None:
    duty = on_call("crm", _rotation(), _at(at))
    assert (duty.primary, duty.secondary, duty.lead) == (primary, secondary, LEAD)


def test_a_rotation_of_one_has_no_backup() -> None:
    duty = on_call("crm", _rotation(members=[A]), _at("2026-12-01T00:00"))
    assert (duty.primary, duty.secondary) == (A, None)


def test_a_holiday_override_names_two_engineers_for_its_period() -> None:
    holidays = {"start": "2026-12-24T09:00:00Z", "end": "2026-12-28T09:00:00Z", "primary": C, "secondary": LEAD}
    later = {"start": "2026-12-26T00:00:00Z", "end": "2026-12-27T00:00:00Z", "primary": A, "secondary": B}
    rotation = _rotation(overrides=[{**holidays, "reason": "holidays"}, later])
    inside = on_call("crm", rotation, _at("2026-12-26T12:00"))  # both cover it: the first listed wins
    assert (inside.primary, inside.secondary, inside.reason) == (C, LEAD, "override: holidays")
    assert inside.until == _at("2026-12-28T09:00")
    assert on_call("crm", rotation, _at("2026-12-24T08:59")).primary == A  # the rotation's week of 2026-12-21
    assert on_call("crm", rotation, _at("2026-12-28T09:00")).primary == B  # the end is exclusive: rotation again


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"members": [A, "bo"]}, "$.teams.crm", "members[1] must be an e-mail address"),
        ({"members": [A, A]}, "$.teams.crm", "members must be distinct"),
        ({"handover": {"weekday": "mon", "time": "09:00"}}, "$.teams.crm.handover.weekday", "Input should be"),
        ({"handover": {"weekday": "monday", "time": "9:00"}}, "$.teams.crm.handover.time", "String should match"),
        (
            {"overrides": [{"start": "2026-12-24T09:00", "end": "2026-12-28T09:00Z", "primary": A, "secondary": B}]},
            "$.teams.crm.overrides[0]",
            "start needs a time zone",
        ),
        (
            {"overrides": [{"start": "2026-12-28T09:00Z", "end": "2026-12-24T09:00Z", "primary": A, "secondary": B}]},
            "$.teams.crm.overrides[0]",
            "end must be after start",
        ),
        (
            {"overrides": [{"start": "2026-12-24T09:00Z", "end": "2026-12-28T09:00Z", "primary": A, "secondary": A}]},
            "$.teams.crm.overrides[0]",
            "two engineers",
        ),
    ],
)
def test_a_bad_rotation_is_refused_naming_the_file_and_json_path(
    tmp_path: Path, changes: dict[str, Any], path: str, message: str
) -> None:
    team = {"lead": LEAD, "members": [A, B], "handover": {"weekday": "monday", "time": "09:00"}, "start": "2026-11-02"}
    (tmp_path / "_oncall.json").write_text(json.dumps({"teams": {"crm": team | changes}}))
    with pytest.raises(InvalidSourceConfigError) as raised:
        load_oncall(tmp_path)
    (error,) = raised.value.errors
    assert (error.file, error.path) == ("_oncall.json", path)
    assert message in error.message


def test_a_credential_in_the_rotations_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    team = {"lead": LEAD, "members": [A, B], "handover": {"weekday": "monday", "time": "09:00"}, "start": "2026-11-02"}
    pager = {"password": "Pg-S3cret-77", "url": "https://pager:Pg-S3cret-77@pager.example.com/x"}
    (tmp_path / "_oncall.json").write_text(json.dumps({"teams": {"crm": team}, "pager": pager}))
    with pytest.raises(InvalidSourceConfigError) as raised:
        load_oncall(tmp_path)
    assert [(e.file, e.path) for e in raised.value.errors] == [
        ("_oncall.json", "$.pager.password"),
        ("_oncall.json", "$.pager.url"),
    ]
    assert "Pg-S3cret-77" not in str(raised.value)


def test_no_file_means_no_rotations(tmp_path: Path) -> None:
    assert load_oncall(tmp_path).teams == {}


def test_the_sample_rotations_load_and_conform_to_the_committed_schema() -> None:
    committed = oncall_schema_path(CONFIGS).read_text(encoding="utf-8")
    assert committed == render_oncall_schema(), "schema out of date: run `scripts/ingest schema --write`"
    sample = json.loads((CONFIGS / "_oncall.json").read_text())
    validator = Draft202012Validator(json.loads(committed))
    assert [e.message for e in validator.iter_errors(sample)] == []
    assert [e.message for e in validator.iter_errors({"teams": {"x": {"members": []}}})] != []
    owners = {json.loads(p.read_text())["owners"]["team"] for p in CONFIGS.glob("[!_]*.json")}
    assert owners <= set(load_oncall(CONFIGS).teams)  # every sample team has a rotation


def test_ingest_oncall_prints_who_is_on_call_for_each_team_at_a_time() -> None:
    done = subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(CONFIGS), "oncall", "--at", "2026-12-25T10:00:00Z"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "on call at 2026-12-25 10:00 UTC"
    crm = next(line for line in lines if line.startswith("crm-data "))
    assert crm.split()[1:4] == ["bo.chen@example.com", "lena.berg@example.com", "lena.berg@example.com"]
    assert crm.endswith("override: holidays")
    bad = subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(CONFIGS), "oncall", "--at", "Christmas"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "--at 'Christmas' is not a time" in bad.stderr


def test_an_alert_is_addressed_to_the_engineer_on_call_for_its_team() -> None:
    config = load_oncall(CONFIGS)
    alert = _alert(team="crm-data", owner="ana.lima@example.com", secondary_owner="bo.chen@example.com")
    at_christmas = addressed(alert, config, _at("2026-12-25T10:00"))
    assert (at_christmas.owner, at_christmas.secondary_owner, at_christmas.lead) == (
        "bo.chen@example.com",
        "lena.berg@example.com",
        None,
    )
    assert at_christmas.severity == alert.severity
    assert recipients(at_christmas, None) == ["bo.chen@example.com"]
    assert addressed(_alert(team="no-rotation"), config, _at("2026-12-25T10:00")) == _alert(team="no-rotation")


def test_a_critical_incident_is_raised_to_critical_and_reaches_the_lead_at_once() -> None:
    config = load_oncall(CONFIGS)
    alert = addressed(_alert(team="crm-data"), config, _at("2026-12-02T10:00"), critical=True)
    assert (alert.severity, alert.lead, alert.owner) == ("critical", "lena.berg@example.com", "ana.lima@example.com")
    assert alert.title.endswith("(data loss suspected)")
    assert ("Lead", "lena.berg@example.com") in alert.facts()
    assert recipients(alert, None) == ["ana.lima@example.com", "lena.berg@example.com"]


@pytest.mark.parametrize(
    ("error", "suspected"),
    [
        (PublishCountMismatchError("broker holds 9 new messages, landed 10"), True),
        (CountMismatchError("published 9, landed 10"), True),
        (WatermarkConflictError("watermark changed"), True),
        (ValidationFailedError("crm.orders: 9 rows landed, source says 10", failed_kinds=("reconciliation",)), True),
        (ValidationFailedError("crm.orders: not_null_id: 3 nulls", failed_kinds=("not_null",)), False),
        # By the check's kind, not its wording: a detail quoting "reconciliation:" is not one.
        (ValidationFailedError("crm.orders: regex_note: 'reconciliation: x'", failed_kinds=("regex",)), False),
        (ValueError("reconciliation: no"), False),
        (None, False),
    ],
)
def test_data_loss_is_suspected_on_reconciliation_count_mismatch_and_watermark_conflict(
    error: BaseException | None, suspected: bool
) -> None:
    assert data_loss_suspected(error) is suspected


def test_data_loss_is_found_behind_the_airflow_fail_exception_a_stage_raises() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    # What the stage operator does with a terminal error, and so what the failure callback receives.
    for cause, suspected in ((WatermarkConflictError("moved"), True), (ValueError("x"), False)):
        with pytest.raises(AirflowFailException) as raised:
            raise AirflowFailException(str(cause)) from cause
        assert data_loss_suspected(raised.value) is suspected


def test_the_runbook_shows_the_teams_rotation_overrides_lead_and_escalation_path() -> None:
    from ingestion.config.loader import load_configs
    from ingestion.planner import plan_source
    from ingestion.runbook import render_runbook

    plan = plan_source(load_configs(CONFIGS, "dev").configs["crm"], "dev")
    rotation = load_oncall(CONFIGS).teams["crm-data"]
    doc = render_runbook(plan, rotation)
    for expected in (
        "- On call: weekly rotation of ana.lima@example.com, bo.chen@example.com (in that order, hand-over Monday "
        "09:00 UTC, from 2026-11-02)",
        "`scripts/ingest oncall [--at TIME]`",
        "- Team lead: lena.berg@example.com: critical incidents (data loss suspected",
        "  - override 2026-12-24 09:00 to 2026-12-28 09:00 UTC: bo.chen@example.com, backup lena.berg@example.com "
        "(holidays)",
        "naming the backup on call",
    ):
        assert expected in doc, expected
    assert "no rotation for this team" in render_runbook(plan)


def test_the_generated_dags_carry_their_teams_rotation_in_the_runbook() -> None:
    from ingestion.factory import build_dags

    dags = build_dags(CONFIGS, env="dev").dags
    assert "weekly rotation of ana.lima@example.com" in str(dags["ingest_crm"].doc_md)
    assert "weekly rotation of carla.diaz@example.com" in str(dags["ingest_orders_api"].doc_md)


def test_ingest_validate_checks_the_rotations_too(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "configs"
    shutil.copytree(CONFIGS, folder)
    sample = json.loads((folder / "_oncall.json").read_text())
    sample["teams"]["crm-data"]["lead"] = "lena"
    (folder / "_oncall.json").write_text(json.dumps(sample))
    done = subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(folder), "validate"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert '_oncall.json: $.teams["crm-data"]: Value error, lead must be an e-mail address' in done.stderr


def test_ingest_docs_shows_each_teams_rotation_escalation_and_routing(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "configs"
    shutil.copytree(CONFIGS, folder)
    crm = json.loads((folder / "crm.json").read_text())
    crm["alerts"] = {"routing": {"medium": ["teams_alerts"], "critical": ["teams_alerts", "smtp_alerts"]}}
    (folder / "crm.json").write_text(json.dumps(crm))
    done = subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(folder), "docs"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    crm_row = next(line for line in done.stdout.splitlines() if line.startswith("| crm | crm-data |"))
    for expected in (
        "ana.lima@example.com, bo.chen@example.com (monday 09:00, from 2026-11-02)",
        "| lena.berg@example.com |",
        "2026-12-24 09:00 to 2026-12-28 09:00: bo.chen@example.com, lena.berg@example.com",
        "after 30 min to the backup on call; data loss suspected: critical, to the lead at once",
        "critical: `teams_alerts`, `smtp_alerts`; medium: `teams_alerts`; otherwise: `teams_alerts`, `slack_alerts`",
    ):
        assert expected in crm_row, expected
    orders = next(line for line in done.stdout.splitlines() if line.startswith("| orders_api | commerce-data |"))
    assert orders.endswith("| every severity: `teams_alerts`, `slack_alerts` |")
