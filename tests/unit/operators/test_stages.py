"""Stage operators resolve their entity's plan at execute time from the current config file, with clear errors."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ingestion.errors import InvalidSourceConfigError, StageNotImplementedError, UnknownSourceError
from ingestion.operators import STAGE_OPERATORS
from ingestion.operators.stages import EntityStageOperator, backfill_skip_reason
from ingestion.pipeline.run_info import RunInfo
from ingestion.plan_loader import load_entity_plan

CONFIGS = Path(__file__).resolve().parents[3] / "include" / "source_configs"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "configs"
    shutil.copytree(CONFIGS, target)
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(target))
    return target


def test_operators_store_names_only() -> None:
    op = STAGE_OPERATORS["extract_land"](task_id="extract_land", source_name="crm", entity_name="orders")
    assert (op.source_name, op.entity_name, op.stage) == ("crm", "orders", "extract_land")
    assert set(op.template_fields) == {"source_name", "entity_name"}
    assert list(STAGE_OPERATORS) == ["extract_land", "validate", "publish", "commit"]


def test_plan_comes_from_the_current_config(config_dir: Path) -> None:
    plan = load_entity_plan("crm", "orders")
    assert (plan.source, plan.entity.name, plan.topic) == ("crm", "orders", "ingest.crm.orders")
    data = json.loads((config_dir / "crm.json").read_text())
    data["kafka"] = {"topic_template": "crm-v2.{entity}"}
    (config_dir / "crm.json").write_text(json.dumps(data))
    assert load_entity_plan("crm", "orders").topic == "crm-v2.orders"


def test_unknown_source_or_entity_is_named(config_dir: Path) -> None:
    with pytest.raises(UnknownSourceError, match="no config for source 'nope'"):
        load_entity_plan("nope", "orders")
    with pytest.raises(UnknownSourceError, match="source 'crm' has no entity 'invoices'"):
        load_entity_plan("crm", "invoices")


def test_a_config_broken_since_parse_fails_the_task_with_its_errors(config_dir: Path) -> None:
    data = json.loads((config_dir / "crm.json").read_text())
    data["schedule"] = "not a cron"
    (config_dir / "crm.json").write_text(json.dumps(data))
    with pytest.raises(InvalidSourceConfigError, match=r"crm.json: \$.schedule: 'not a cron' is not a valid cron"):
        load_entity_plan("crm", "orders")


def _context(run_type: str) -> dict:
    end = datetime(2026, 11, 2, tzinfo=UTC)
    dag_run = SimpleNamespace(
        dag_id="ingest_x",
        run_id=f"{run_type}__x",
        run_type=run_type,
        data_interval_start=end - timedelta(days=1),
        data_interval_end=end,
        run_after=end,
        conf={},
    )
    return {"dag_run": dag_run, "ti": SimpleNamespace(try_number=1)}


def test_an_unimplemented_stage_fails_loudly(config_dir: Path) -> None:
    # A stage operator without a body must fail its task, never succeed silently.
    class BareStage(EntityStageOperator):
        stage = "bare"

    op = BareStage(task_id="bare", source_name="orders_api", entity_name="orders")
    # Terminal: the task fails without using its retries, and the cause stays attached.
    with pytest.raises(AirflowFailException, match="stage 'bare' for http source 'orders_api'") as failed:
        op.execute(context=_context("scheduled"))  # type: ignore[arg-type]
    assert isinstance(failed.value.__cause__, StageNotImplementedError)


def test_errors_leave_the_task_naming_their_run_and_transient_ones_keep_retries(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.errors import TransientError
    from ingestion.pipeline import validate_stage

    def source_down(*args: object, **kwargs: object) -> None:
        raise TransientError("the source is down")

    monkeypatch.setattr(validate_stage, "validate_run", source_down)
    op = STAGE_OPERATORS["validate"](task_id="validate", source_name="crm", entity_name="orders")
    with pytest.raises(TransientError) as raised:  # not AirflowFailException: Airflow retries it
        op.execute(context=_context("scheduled"))  # type: ignore[arg-type]
    assert (raised.value.source, raised.value.entity) == ("crm", "orders")
    assert raised.value.run_id == _context("scheduled")["dag_run"].run_id


def test_backfills_skip_entities_that_are_not_interval_windowed(config_dir: Path) -> None:
    # crm.customers is incremental: a backfill would reload it under a past run's date, so it is skipped with
    # the way to reload it instead. (crm.orders, an interval entity, is the one backfills are for.)
    op = STAGE_OPERATORS["extract_land"](task_id="extract_land", source_name="crm", entity_name="customers")
    with pytest.raises(AirflowSkipException, match=r"incremental entity: backfills skip it.*full_refresh"):
        op.execute(context=_context("backfill"))  # type: ignore[arg-type]
    backfill, scheduled = RunInfo.from_context(_context("backfill")), RunInfo.from_context(_context("scheduled"))
    assert backfill_skip_reason(load_entity_plan("crm", "orders"), backfill) is None
    assert backfill_skip_reason(load_entity_plan("crm", "customers"), scheduled) is None


def test_extract_land_waits_while_an_earlier_run_has_not_committed(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Airflow does not hold runs without a logical date behind depends_on_past: the stage finds the earlier run
    # itself, and the operator looks again later (up_for_reschedule) instead of failing or reading.
    from airflow.sdk.exceptions import AirflowRescheduleException

    from ingestion.pipeline import extract_driver
    from ingestion.pipeline.errors import PreviousRunNotCommittedError

    def earlier_run_uncommitted(plan: object, run: object) -> None:
        raise PreviousRunNotCommittedError("crm.customers: run manual__1 published 3 row(s) ... so it waits")

    monkeypatch.setattr(extract_driver, "extract_land", earlier_run_uncommitted)
    dag_run = SimpleNamespace(
        dag_id="ingest_crm",
        run_id="manual__2",
        run_type="manual",
        data_interval_start=None,
        data_interval_end=None,
        run_after=datetime(2026, 11, 3, tzinfo=UTC),
        conf={},
    )
    op = STAGE_OPERATORS["extract_land"](task_id="extract_land", source_name="crm", entity_name="customers")
    before = datetime.now(UTC)
    with pytest.raises(AirflowRescheduleException) as waiting:
        op.execute({"dag_run": dag_run, "ti": SimpleNamespace(try_number=1)})  # type: ignore[arg-type]
    assert before < waiting.value.reschedule_date <= datetime.now(UTC) + timedelta(minutes=1)
