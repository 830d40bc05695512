"""E-mail alerts: the plain-text and HTML parts carry the Teams card's facts, and who the e-mail is addressed to."""

from __future__ import annotations

import html
from dataclasses import replace

import pytest

from ingestion.notify.mail import recipients
from ingestion.notify.payloads import email_message, teams_message
from tests.unit.notify.test_payloads import _alert


def _card_facts(alert: object) -> list[tuple[str, str]]:
    card = teams_message(alert)["attachments"][0]["content"]  # type: ignore[arg-type]
    (fact_set,) = [b for b in card["body"] if b["type"] == "FactSet"]
    return [(f["title"], f["value"]) for f in fact_set["facts"]]


def test_both_parts_carry_every_fact_of_the_teams_card_and_its_error_and_links() -> None:
    alert = _alert(error="ValueError: <count> 85 != 90 & more")
    subject, text, body = email_message(alert)
    assert subject == "[HIGH] crm.orders: publish failed"
    facts = _card_facts(alert)
    assert ("Rows landed", "85") in facts
    for label, value in facts:
        assert any(line.startswith(f"{label}:") and line.endswith(f" {value}") for line in text.splitlines()), label
        assert (
            f'<th align="left" style="padding-right:12px">{html.escape(label)}</th><td>{html.escape(value)}</td>'
            in body
        )
    for part in (text, body):
        assert "http://af/dags/ingest_crm/runs/x" in part
        assert "http://af/dags/ingest_crm/docs" in part
    assert alert.error in text
    assert html.escape(alert.error) in body
    assert "<count>" not in body  # escaped, not markup


def test_a_notice_is_in_both_parts_and_missing_links_are_left_out() -> None:
    alert = replace(_alert(run_url=None, runbook_url=None), notice="decided on this machine only")
    _, text, body = email_message(alert)
    assert "decided on this machine only" in text
    assert "decided on this machine only" in body
    assert "Runbook" not in text
    assert "<a href" not in body


@pytest.mark.parametrize(
    ("changes", "fallback", "expected"),
    [
        ({}, "oncall@example.com", ["ana@example.com"]),
        ({"kind": "escalation"}, None, ["ana@example.com", "bo@example.com"]),
        ({"kind": "escalation", "secondary_owner": None}, None, ["ana@example.com"]),
        (
            {"kind": "summary", "owner": "-", "secondary_owner": None},
            "a@example.com; b@example.com",
            ["a@example.com", "b@example.com"],
        ),
        ({"owner": "crm-team"}, "oncall@example.com", ["oncall@example.com"]),
        ({"owner": "crm-team"}, None, []),
    ],
)
def test_an_alert_goes_to_its_owner_an_escalation_also_to_the_secondary(
    changes: dict[str, object], fallback: str | None, expected: list[str]
) -> None:
    assert recipients(_alert(**changes), fallback) == expected
