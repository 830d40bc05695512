"""Stage operators resolve their entity's plan at execute time from the current config file, with clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingestion.errors import InvalidSourceConfigError, StageNotImplementedError, UnknownSourceError
from ingestion.factory import load_entity_plan
from ingestion.operators import STAGE_OPERATORS

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


def test_an_unimplemented_stage_fails_loudly(config_dir: Path) -> None:
    # Guards the interim state: a stage without a body must fail its task, never succeed silently.
    op = STAGE_OPERATORS["publish"](task_id="publish", source_name="orders_api", entity_name="orders")
    with pytest.raises(StageNotImplementedError, match="stage 'publish' for http source 'orders_api'"):
        op.execute(context={})  # type: ignore[arg-type]
