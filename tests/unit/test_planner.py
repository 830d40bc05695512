"""The pure planner and runbook: ids, edges, effective settings and the runbook text, without Airflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.config.loader import load_configs
from ingestion.config.models import Alerts, Landing, SourceConfig
from ingestion.planner import WAITING_SOURCE_MAX_ACTIVE_RUNS, plan_entity, plan_source, source_for_dag_id
from ingestion.runbook import render_runbook
from ingestion.schedule_text import refresh_frequency

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "include" / "source_configs"


@pytest.fixture(scope="module")
def configs() -> dict[str, SourceConfig]:
    result = load_configs(CONFIGS, "dev")
    assert result.errors == []
    return result.configs


def test_planner_runbook_cli_and_models_import_no_airflow() -> None:
    code = (
        "import sys; sys.path.insert(0, 'plugins');"
        "import ingestion.planner, ingestion.runbook, ingestion.cli, ingestion.config.schema;"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_crm_plan_ids_edges_and_flags(configs: dict[str, SourceConfig]) -> None:
    plan = plan_source(configs["crm"], "dev")
    assert plan.dag_id == "ingest_crm"
    assert plan.task_ids[:4] == (
        "customers.extract_land",
        "customers.validate",
        "customers.publish",
        "customers.commit",
    )
    assert ("orders.publish", "orders.commit") in plan.edges
    assert ("customers.commit", "orders.extract_land") not in plan.edges  # entities are independent
    assert [e.depends_on_past for e in plan.entities] == [True, False]  # incremental, interval
    # A cursor entity's next run extracts only after this run committed (wait_for_downstream on a direct edge).
    assert [e.waits_for_previous_commit for e in plan.entities] == [True, False]
    assert ("customers.extract_land", "customers.commit") in plan.edges
    assert ("orders.extract_land", "orders.commit") not in plan.edges
    assert plan.retry.retries == 1  # dev overlay on top of the defaults' 3
    assert plan.entities[0].topic == "ingest.crm.customers"
    assert plan.entities[0].key_columns == ("customer_id",)
    assert plan.entities[0].sensitive_columns == ("full_name",)
    assert plan.entities[0].landing_path_pattern == (
        "landing/crm/customers/date=YYYY-MM-DD/crm_customers_<YYYYMMDDHHMMSS[ffffff]>_NNNN.parquet"
    )
    assert plan.start_date.tzinfo is not None
    assert source_for_dag_id("ingest_crm") == "crm"
    assert source_for_dag_id("platform_smoke_check") is None


def test_a_source_whose_runs_can_wait_for_a_commit_allows_more_than_one_active_run(
    configs: dict[str, SourceConfig],
) -> None:
    """A run that waits for its predecessor's commit holds its DAG run open; with one active run allowed, the
    predecessor cleared to retry its commit would be queued behind it for ever."""
    crm = configs["crm"]
    assert plan_source(crm, "dev").max_active_runs == WAITING_SOURCE_MAX_ACTIVE_RUNS > 1
    entities = [e.model_copy(update={"load": e.load.model_copy(update={"mode": "interval"})}) for e in crm.entities]
    no_waits = plan_source(crm.model_copy(update={"entities": entities}), "dev")
    assert not any(entity.waits_for_previous_commit for entity in no_waits.entities)
    assert no_waits.max_active_runs == 1  # nothing waits: full loads stay in order
    # The runbook says which, so on call knows whether a cleared run can start beside a waiting one.
    assert f"- Up to {WAITING_SOURCE_MAX_ACTIVE_RUNS} runs at once" in render_runbook(plan_source(crm, "dev"))
    assert "- Runs one at a time\n" in render_runbook(no_waits)


def test_prod_overlay_changes_retries_and_severity() -> None:
    prod = load_configs(CONFIGS, "prod")
    assert prod.errors == []
    plan = plan_source(prod.configs["crm"], prod.env)
    assert (plan.retry.retries, plan.retry.retry_delay.total_seconds()) == (4, 120)
    assert plan.config.alerts.severity == "critical"
    assert "env:prod" in plan.tags
    assert prod.configs["orders_api"].alerts.severity == "medium"  # its own setting; prod names only crm


def test_entity_override_changes_only_the_fields_it_names(configs: dict[str, SourceConfig]) -> None:
    source = configs["crm"]
    data = source.model_dump(by_alias=True, exclude_unset=True)
    data["entities"][1]["landing"] = {"container": "finance-landing"}
    data["entities"][1]["alerts"] = {"severity": "critical"}
    data["entities"][1]["kafka"] = {"topic_template": "finance.{entity}", "key_columns": ["order_id", "customer_id"]}
    overridden = SourceConfig.model_validate(data)
    orders = plan_entity(overridden, overridden.entities[1])
    assert orders.landing == Landing(conn_id="lake_wasb", container="finance-landing")
    assert orders.alerts == Alerts(severity="critical", channels=source.alerts.channels)
    assert orders.topic == "finance.orders"
    assert orders.key_columns == ("order_id", "customer_id")
    untouched = plan_entity(overridden, overridden.entities[0])
    assert untouched.landing.container == "landing"


def test_runbook_covers_what_on_call_needs(configs: dict[str, SourceConfig]) -> None:
    doc = render_runbook(plan_source(configs["crm"], "dev"))
    for expected in (
        "# ingest_crm: runbook",
        "Customers and orders from the CRM",  # purpose
        "Primary owner: ana.lima@example.com",
        "Secondary owner: bo.chen@example.com",
        "naming bo.chen@example.com",  # escalation path
        "Schedule: daily at 02:00 UTC (`0 2 * * *`)",
        "Expected to finish within 45 min",
        "Must have finished by 04:00 UTC",
        "| `email` | string | no | yes: hash | login e-mail |",
        "Raw values of `full_name` go to the `sensitive` container only",
        "`landing/crm/orders/date=YYYY-MM-DD/crm_orders_<YYYYMMDDHHMMSS[ffffff]>_NNNN.parquet`",
        "Kafka topic: `ingest.crm.orders`",
        "## Common failures and what to do",
        "airflow backfill create --dag-id ingest_crm",
    ):
        assert expected in doc, expected
    assert doc.endswith("\n")
    assert not doc.rstrip().endswith(".md")


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ("0 2 * * *", "daily at 02:00 UTC"),
        ("*/30 * * * *", "every 30 minutes"),
        ("15 * * * *", "hourly at minute 15"),
        ("0 */6 * * *", "every 6 hours"),
        ("@daily", "daily at 00:00 UTC"),
        (None, "manual only (no schedule)"),
        ("0 9 * * 1-5", "on cron `0 9 * * 1-5` (irregular: 1 day to 3 days apart)"),
    ],
)
def test_refresh_frequency_in_words(schedule: str | None, words: str) -> None:
    assert refresh_frequency(schedule) == words


@pytest.mark.parametrize(
    "schedule", ["0 2 * * *", "59 23 * * *", "7 * * * *", "0 */6 * * *", "30 */1 * * *", "*/15 * * * *", "*/1 * * * *"]
)
def test_fast_cron_words_agree_with_croniter(schedule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingestion import schedule_text

    fast = schedule_text.refresh_frequency(schedule)
    schedule_text.refresh_frequency.cache_clear()
    monkeypatch.setattr(schedule_text, "_common_cron", lambda _schedule: None)
    try:
        assert schedule_text.refresh_frequency(schedule) == fast
    finally:
        schedule_text.refresh_frequency.cache_clear()


def test_the_runbook_states_the_retention_the_dag_applies() -> None:
    crm = load_configs(CONFIGS, "dev").configs["crm"]
    short = crm.model_copy(update={"retention": crm.retention.model_copy(update={"raw_days": 30, "archive_days": 20})})
    lines = {line for line in render_runbook(plan_source(short, "dev")).splitlines() if line.startswith("- Retention")}
    # archive_days not past raw_days: deleted at raw_days, never archived, and no zone outlives the landing one.
    assert lines == {
        "- Retention (the daily `ingest_retention` DAG, by the `date=` folder): landing data deleted after 30 days; "
        "sensitive container after 30 days; quarantine after 14 days; control DB run records after 400 days"
    }
