"""alerts.routing: the channels each severity goes to; without it every severity goes to `channels`, as before."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ingestion.config.models import Alerts, SourceConfig
from ingestion.planner import plan_entity, plan_source
from ingestion.runbook import render_runbook

BASE: dict[str, Any] = {
    "name": "s",
    "owners": {"primary": "a@example.com", "secondary": "b@example.com", "team": "t"},
    "start_date": "2026-11-01T00:00:00Z",
    "kind": "sftp",
    "conn_id": "c",
    "entities": [{"name": "e", "locator": {"kind": "sftp", "remote_path": "in"}}],
}
ROUTED = {
    "channels": ["teams_alerts", "slack_alerts"],
    "routing": {
        "critical": ["teams_alerts", "smtp_alerts"],
        "high": ["teams_alerts", "smtp_alerts"],
        "medium": ["teams_alerts"],
    },
}


def test_without_routing_every_severity_goes_to_the_channels() -> None:
    alerts = Alerts(channels=("teams_alerts", "slack_alerts"))
    for severity in ("critical", "high", "medium", "low"):
        assert alerts.channels_for(severity) == ("teams_alerts", "slack_alerts")


def test_a_routed_severity_goes_to_its_route_the_others_to_the_channels() -> None:
    alerts = Alerts.model_validate(ROUTED)
    assert alerts.channels_for("critical") == ("teams_alerts", "smtp_alerts")
    assert alerts.channels_for("medium") == ("teams_alerts",)
    assert alerts.channels_for("low") == ("teams_alerts", "slack_alerts")


@pytest.mark.parametrize(
    ("routing", "where"),
    [({"urgent": ["teams_alerts"]}, "routing.urgent.[key]"), ({"high": ["https://hooks/x?sig=1"]}, "routing.high.0")],
)
def test_routing_names_severities_and_connection_ids_only(routing: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as error:
        SourceConfig.model_validate({**BASE, "alerts": {"routing": routing}})
    assert any(".".join(str(p) for p in e["loc"]).endswith(where) for e in error.value.errors()), error.value


def test_an_entity_routing_replaces_the_sources() -> None:
    entity = {**BASE["entities"][0], "alerts": {"routing": {"critical": ["pager_alerts"]}}}
    config = SourceConfig.model_validate({**BASE, "alerts": ROUTED, "entities": [entity]})
    plan = plan_entity(config, config.entities[0])
    assert plan.alerts.channels_for("critical") == ("pager_alerts",)
    assert plan.alerts.channels_for("high") == ("teams_alerts", "slack_alerts")


def test_the_runbook_lists_the_routes_most_severe_first() -> None:
    routed = {**ROUTED, "routing": {"medium": ["teams_alerts"], "critical": ["teams_alerts", "smtp_alerts"]}}
    doc = render_runbook(plan_source(SourceConfig.model_validate({**BASE, "alerts": routed}), "dev"))
    assert "- Alerts: severity **high** to `teams_alerts`, `slack_alerts`" in doc
    assert "  - critical: `teams_alerts`, `smtp_alerts`\n  - medium: `teams_alerts`\n" in doc
    plain = render_runbook(plan_source(SourceConfig.model_validate({**BASE, "alerts": {"channels": ["t"]}}), "dev"))
    assert "Routing by severity" not in plain
