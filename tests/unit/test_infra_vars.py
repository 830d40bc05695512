"""The Terraform variables are generated from the configs: the committed file is in step with them, and each entity's
retention becomes its own lifecycle rules, per environment."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ingestion.cli import main
from ingestion.config.models import SourceConfig
from ingestion.errors import InfraVarsError, InvalidSourceConfigError
from ingestion.infra_vars import (
    INFRA_VARS_PATH,
    MAX_LIFECYCLE_RULES,
    MAX_PREFIXES_PER_RULE,
    render_infra_vars,
    storage_layout,
)

CONFIGS = Path(__file__).resolve().parents[2] / "include" / "source_configs"

SOURCE: dict[str, Any] = {
    "name": "shop_db",
    "owners": {"primary": "ana@example.com", "secondary": "bo@example.com", "team": "shop-data"},
    "start_date": "2026-11-01T00:00:00Z",
    "kind": "sql",
    "conn_id": "shop_mysql",
    "retention": {"raw_days": 10, "archive_days": 100, "sensitive_days": 20, "quarantine_days": 5},
    "entities": [
        {"name": "orders", "locator": {"kind": "sql", "table": "orders"}},
        {
            "name": "refunds",
            "locator": {"kind": "sql", "table": "refunds"},
            "landing": {"container": "finance", "sensitive_container": "finance-pii"},
        },
    ],
}


def _entities(count: int) -> list[dict[str, Any]]:
    return [{"name": f"e{i:02}", "locator": {"kind": "sql", "table": "t"}} for i in range(count)]


def _config(**changes: Any) -> SourceConfig:
    data = copy.deepcopy(SOURCE)
    data.update(changes)
    return SourceConfig.model_validate(data)


def _write_config_dir(root: Path, prod_overlay: dict[str, Any]) -> Path:
    (root / "overlays").mkdir(parents=True)
    (root / "_defaults.json").write_text("{}", encoding="utf-8")
    (root / "shop_db.json").write_text(json.dumps(SOURCE), encoding="utf-8")
    (root / "overlays" / "dev.json").write_text("{}", encoding="utf-8")
    (root / "overlays" / "prod.json").write_text(json.dumps(prod_overlay), encoding="utf-8")
    return root


def test_committed_tfvars_match_the_configs() -> None:
    committed = INFRA_VARS_PATH.read_text(encoding="utf-8")
    assert committed == render_infra_vars(CONFIGS), "run `scripts/ingest infra-vars --write` and commit the file"


def test_committed_tfvars_cover_every_entity_of_every_environment() -> None:
    lake = json.loads(INFRA_VARS_PATH.read_text(encoding="utf-8"))["lake_by_environment"]
    assert sorted(lake) == ["dev", "prod"]
    prefixes = {prefix for rule in lake["prod"]["lifecycle_rules"] for prefix in rule["prefixes"]}
    assert "landing/crm/customers/date=" in prefixes
    assert "sensitive/partner_files/events/date=" in prefixes
    assert "sensitive/partner_files/events/_quarantine/date=" in prefixes


def test_a_small_config_gives_one_rule_per_zone_with_its_retention() -> None:
    layout = storage_layout({"shop_db": _config()})
    assert layout == {
        "landing_containers": ["finance", "landing"],
        "sensitive_containers": ["finance-pii", "sensitive"],
        "lifecycle_rules": [
            {
                "name": "landing-shop-db",
                "prefixes": ["landing/shop_db/orders/date=", "finance/shop_db/refunds/date="],
                "tier_after_days": 10,
                "delete_after_days": 100,
            },
            {
                "name": "sensitive-shop-db",
                "prefixes": ["sensitive/shop_db/orders/date=", "finance-pii/shop_db/refunds/date="],
                "tier_after_days": None,
                "delete_after_days": 20,
            },
            {
                "name": "quarantine-shop-db",
                "prefixes": [
                    "sensitive/shop_db/orders/_quarantine/date=",
                    "finance-pii/shop_db/refunds/_quarantine/date=",
                ],
                "tier_after_days": None,
                "delete_after_days": 5,
            },
        ],
    }


def test_equal_raw_and_archive_periods_delete_from_the_hot_tier() -> None:
    retention = {"raw_days": 30, "archive_days": 30, "sensitive_days": 30, "quarantine_days": 30}
    rules = storage_layout({"shop_db": _config(retention=retention)})["lifecycle_rules"]
    assert [(r["tier_after_days"], r["delete_after_days"]) for r in rules] == [(None, 30)] * 3


def test_more_entities_than_a_rule_holds_split_into_numbered_rules() -> None:
    rules = storage_layout({"shop_db": _config(entities=_entities(MAX_PREFIXES_PER_RULE + 1))})["lifecycle_rules"]
    landing = [r for r in rules if r["name"].startswith("landing-")]
    assert [(r["name"], len(r["prefixes"])) for r in landing] == [
        ("landing-shop-db-part1", MAX_PREFIXES_PER_RULE),
        ("landing-shop-db-part2", 1),
    ]
    assert landing[1]["prefixes"] == [f"landing/shop_db/e{MAX_PREFIXES_PER_RULE:02}/date="]


def test_the_production_overlay_sets_production_retention(tmp_path: Path) -> None:
    config_dir = _write_config_dir(tmp_path, {"shop_db": {"retention": {"raw_days": 40, "archive_days": 400}}})
    lake = json.loads(render_infra_vars(config_dir))["lake_by_environment"]
    days = {env: [(r["tier_after_days"], r["delete_after_days"]) for r in lake[env]["lifecycle_rules"]] for env in lake}
    assert days == {"dev": [(10, 100), (None, 20), (None, 5)], "prod": [(40, 400), (None, 20), (None, 5)]}


def test_an_invalid_config_generates_nothing(tmp_path: Path) -> None:
    config_dir = _write_config_dir(tmp_path, {"shop_db": {"retention": {"raw_days": 0}}})
    with pytest.raises(InvalidSourceConfigError, match=r"prod\.json"):
        render_infra_vars(config_dir)


def test_a_container_for_both_general_and_sensitive_data_is_refused() -> None:
    # Within one source the config refuses it; across sources, one's landing container is another's sensitive one.
    other = _config(name="other_db", landing={"container": "sensitive", "sensitive_container": "other-sensitive"})
    with pytest.raises(InfraVarsError, match=r"\['sensitive'\]"):
        storage_layout({"shop_db": _config(), "other_db": other})


def test_colliding_rule_names_are_refused() -> None:
    # shop_db's second group of entities and a source named shop_db_part2 would share a rule name.
    split = _config(entities=_entities(MAX_PREFIXES_PER_RULE + 1))
    other = _config(name="shop_db_part2")
    with pytest.raises(InfraVarsError, match="landing-shop-db-part2"):
        storage_layout({"shop_db": split, "shop_db_part2": other})


def test_more_rules_than_the_account_allows_are_refused() -> None:
    sources = {f"s{i:02}": _config(name=f"s{i:02}") for i in range(MAX_LIFECYCLE_RULES // 3 + 1)}
    with pytest.raises(InfraVarsError, match=f"{3 * len(sources)} lifecycle rules"):
        storage_layout(sources)


def test_cli_check_fails_on_a_stale_file_and_write_fixes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_dir = _write_config_dir(tmp_path / "configs", {})
    out = tmp_path / "generated.auto.tfvars.json"
    out.write_text("{}\n", encoding="utf-8")
    args = ["--config-dir", str(config_dir), "infra-vars", "--out", str(out)]
    assert main([*args, "--check"]) == 1
    assert "infra-vars --write" in capsys.readouterr().err
    assert main([*args, "--write"]) == 0
    assert main([*args, "--check"]) == 0
    assert out.read_text(encoding="utf-8") == render_infra_vars(config_dir)
