"""Alert text and payloads: secrets scrubbed, Teams Workflows message shape, Slack's limits."""

from __future__ import annotations

import json

import pytest

from ingestion.notify.alert import Alert, run_url, scrub, short_error
from ingestion.notify.payloads import slack_message, teams_message
from tests.adaptive_card import card_errors


def _alert(**changes: object) -> Alert:
    values: dict[str, object] = {
        "kind": "failure",
        "severity": "high",
        "title": "crm.orders: publish failed",
        "source": "crm",
        "entity": "orders",
        "dag_id": "ingest_crm",
        "task_id": "orders.publish",
        "run_id": "scheduled__2026-11-02T02:00:00+00:00",
        "try_number": 4,
        "error": "KafkaException: broker down",
        "owner": "ana@example.com",
        "secondary_owner": "bo@example.com",
        "team": "crm-data",
        "run_url": "http://af/dags/ingest_crm/runs/x",
        "runbook_url": "http://af/dags/ingest_crm/docs",
        "counts": {"rows_landed": 85},
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("could not connect to postgresql://crm_reader:s3cr3t-pw@db:5432/crm", "s3cr3t-pw"),
        ("DefaultEndpointsProtocol=http;AccountName=a;AccountKey=abcDEF123==;BlobEndpoint=x", "abcDEF123=="),
        ("401: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("https://x.blob.core.windows.net/c?sv=2024&sig=Zm9vYmFy%3D&se=1", "Zm9vYmFy"),
        ('request failed: {"password": "hunter22"}', "hunter22"),
        ("token=abc123def456 rejected", "abc123def456"),
    ],
)
def test_scrub_removes_credentials(text: str, secret: str) -> None:
    assert secret not in scrub(text)


def test_scrub_removes_known_secrets_and_short_error_truncates() -> None:
    assert "my-webhook-key" not in scrub("posting to /hooks/my-webhook-key failed", ("my-webhook-key",))
    long = short_error(ValueError("x" * 2000))
    assert len(long) == 500
    assert long.startswith("ValueError: xxx")


def test_teams_message_is_a_workflows_message_with_an_adaptive_card() -> None:
    message = teams_message(_alert())
    assert message["type"] == "message"
    card = message["attachments"][0]["content"]
    assert message["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard"
    assert card["body"][0]["text"] == "[HIGH] crm.orders: publish failed"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Try"] == "4"
    assert facts["Rows landed"] == "85"
    assert [a["title"] for a in card["actions"]] == ["Open the run", "Runbook"]
    json.dumps(message)  # serialisable as is


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"severity": "critical"},
        {"severity": "medium", "error": None},
        {"severity": "low", "run_url": None, "runbook_url": None},
        {"severity": "unknown", "counts": {f"count_{i}": i for i in range(15)}, "secondary_owner": None},
        {"notice": "The control database was unreachable: this alert is throttled on this machine only."},
    ],
    ids=["high", "critical", "medium-no-error", "low-no-links", "odd-severity-many-counts", "notice"],
)
def test_teams_cards_validate_against_the_adaptive_card_schema(changes: dict[str, object]) -> None:
    assert card_errors(teams_message(_alert(**changes))["attachments"][0]["content"]) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("body", 0, "text"), None, "body/0"),  # a TextBlock without text
        (("body", 0, "size"), "huge", "body/0"),  # not a size
        (("body", 1, "facts", 0, "value"), None, "body/1"),  # a fact without a value
        (("body", 2, "text"), None, "body/2"),  # the error block without text
        (("actions", 1, "url"), None, "actions/1"),  # a link without a URL
        (("type",), "MessageCard", "type"),  # the old Office 365 connector format
    ],
)
def test_the_schema_check_catches_a_broken_card(path: tuple[object, ...], value: object, expected: str) -> None:
    card = json.loads(json.dumps(teams_message(_alert())["attachments"][0]["content"]))
    *parents, last = path
    node = card
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    errors = card_errors(card)
    assert errors
    assert errors[0].startswith(expected)


def test_slack_message_keeps_sections_within_ten_fields() -> None:
    counts = {f"count_{i}": i for i in range(15)}
    text, blocks = slack_message(_alert(counts=counts))
    assert text.endswith("[HIGH] crm.orders: publish failed")
    assert all(len(b.get("fields", [])) <= 10 for b in blocks)
    assert sum(len(b.get("fields", [])) for b in blocks) == 10 + 15
    assert "<http://af/dags/ingest_crm/docs|Runbook>" in json.dumps(blocks)


def test_a_notice_is_shown_right_under_the_title_in_both_messages() -> None:
    notice = "The control database was unreachable: this alert is throttled on this machine only."
    card = teams_message(_alert(notice=notice))["attachments"][0]["content"]
    assert card["body"][1]["text"] == notice
    assert card["body"][1]["color"] == "warning"
    _, blocks = slack_message(_alert(notice=notice))
    assert notice in blocks[1]["text"]["text"]
    assert notice not in json.dumps(teams_message(_alert())) + json.dumps(slack_message(_alert()))


def test_run_urls_are_quoted() -> None:
    url = run_url("http://af", "ingest_crm", "manual__2026-11-22T07:10:10+00:00", "orders.publish")
    assert url == "http://af/dags/ingest_crm/runs/manual__2026-11-22T07%3A10%3A10%2B00%3A00/tasks/orders.publish"


def test_far_longer_needs_history_a_factor_and_a_minute() -> None:
    from ingestion.notify.notifiers import far_longer

    assert far_longer(400, [100, 110], 3) is None  # too little history
    assert far_longer(400, [100, 110, 90], 3) == 100
    assert far_longer(290, [100, 110, 90], 3) is None  # under 3x
    assert far_longer(50, [5, 6, 4], 3) is None  # under a minute: noise
