"""The storage layout the infrastructure code needs from the source configs, as Terraform variables.

The retention DAG (`ingest_retention`) applies the configs' retention by the day in each partition's folder. The
storage account's lifecycle management is its backstop, so retention holds even when no DAG runs: one rule per
source and zone, its prefixes the entities' `date=` folders, its periods the DAG's (`periods_for`, from the source's
`retention` in each environment: defaults, source file and that environment's overlay, as the DAGs see them):

    landing     <landing>/<source>/<entity>/date=                cool tier after raw_days, deleted after archive_days
    sensitive   <sensitive>/<source>/<entity>/date=              deleted after sensitive_days
    quarantine  <sensitive>/<source>/<entity>/_quarantine/date=  deleted after quarantine_days

Rules count a blob's age from its last modification, not its folder's day, and cannot hold back an entity's newest
partition as the DAG does; they tier to cool, not archive, since a prefix cannot leave out the manifests, which must
stay readable.

`scripts/ingest infra-vars --write` writes them to infra/generated.auto.tfvars.json (committed);
tests/unit/test_infra_vars.py fails when the committed file and the configs disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingestion.config.loader import OVERLAYS_DIR, environments, load_configs
from ingestion.config.models import SourceConfig
from ingestion.errors import InfraVarsError, InvalidSourceConfigError
from ingestion.land.retention_plan import Zone, periods_for

# In the repo beside plugins/; the image has no infra/ folder and never needs the file.
INFRA_VARS_PATH = Path(__file__).resolve().parents[2] / "infra" / "generated.auto.tfvars.json"
# Azure Storage allows at most 100 rules in an account's lifecycle management policy, and 10 prefixes in a rule.
MAX_LIFECYCLE_RULES = 100
MAX_PREFIXES_PER_RULE = 10


def _rule(name: str, prefixes: list[str], tier_after_days: int | None, delete_after_days: int) -> dict[str, Any]:
    return {
        "name": name,
        "prefixes": prefixes,
        "tier_after_days": tier_after_days,
        "delete_after_days": delete_after_days,
    }


def _source_rules(config: SourceConfig) -> list[dict[str, Any]]:
    """The source's rules: one per zone, its prefixes split in groups of what one rule may hold."""
    # The periods the retention DAG applies, so the backstop never acts before it.
    periods = {zone: periods_for(config.retention, zone) for zone in Zone}
    prefixes: dict[Zone, list[str]] = {zone: [] for zone in Zone}
    for entity in sorted(config.entities, key=lambda e: e.name):
        where = entity.landing or config.landing
        folder = f"{config.name}/{entity.name}"
        prefixes[Zone.LANDING].append(f"{where.container}/{folder}/date=")
        prefixes[Zone.SENSITIVE].append(f"{where.sensitive_container}/{folder}/date=")
        prefixes[Zone.QUARANTINE].append(f"{where.sensitive_container}/{folder}/_quarantine/date=")
    rules = []
    for zone in Zone:
        every = prefixes[zone]
        groups = [every[i : i + MAX_PREFIXES_PER_RULE] for i in range(0, len(every), MAX_PREFIXES_PER_RULE)]
        for number, group in enumerate(groups, start=1):
            # Rule names allow letters, digits and hyphens only.
            name = f"{zone.value}-{config.name}".replace("_", "-") + (f"-part{number}" if len(groups) > 1 else "")
            period = periods[zone]
            rules.append(_rule(name, group, period.archive_after_days, period.delete_after_days))
    return rules


def storage_layout(configs: Mapping[str, SourceConfig]) -> dict[str, Any]:
    """One environment's containers and lifecycle rules. Pure: the same configs always give the same output."""
    landing: set[str] = set()
    sensitive: set[str] = set()
    rules: list[dict[str, Any]] = []
    for source in sorted(configs):
        config = configs[source]
        for entity in config.entities:
            where = entity.landing or config.landing
            landing.add(where.container)
            sensitive.add(where.sensitive_container)
        rules.extend(_source_rules(config))
    if both := sorted(landing & sensitive):
        raise InfraVarsError(
            f"container(s) {both} are used both as landing.container and landing.sensitive_container: consumers "
            "would read the sensitive data"
        )
    _check_rules(rules)
    return {"landing_containers": sorted(landing), "sensitive_containers": sorted(sensitive), "lifecycle_rules": rules}


def _check_rules(rules: list[dict[str, Any]]) -> None:
    if len(rules) > MAX_LIFECYCLE_RULES:
        raise InfraVarsError(
            f"{len(rules)} lifecycle rules (three per source, more past {MAX_PREFIXES_PER_RULE} entities) exceed the "
            f"storage account's limit of {MAX_LIFECYCLE_RULES}"
        )
    seen: set[str] = set()
    for rule in rules:
        if rule["name"] in seen:
            raise InfraVarsError(
                f"two lifecycle rules are named {rule['name']!r} (underscores become hyphens, -partN numbers a "
                "source's groups of entities): rename one of the sources"
            )
        seen.add(rule["name"])


def infra_vars(config_dir: Path) -> dict[str, Any]:
    """The Terraform variables for every environment. Every config must be valid: a rule left out for a broken
    config would let its data outlive its retention, or never be tiered."""
    # Variables from nothing (a mistyped folder) would tell Terraform to destroy every container and rule.
    if not config_dir.is_dir():
        raise InfraVarsError(f"config folder {config_dir} does not exist")
    envs = environments(config_dir)
    if not envs:
        raise InfraVarsError(f"{config_dir / OVERLAYS_DIR} holds no environment overlay (<env>.json)")
    by_env: dict[str, Any] = {}
    for env in envs:
        result = load_configs(config_dir, env)
        if result.errors:
            raise InvalidSourceConfigError(result.errors)
        if not result.configs:
            raise InfraVarsError(f"{config_dir} holds no source config (<source>.json)")
        by_env[env] = storage_layout(result.configs)
    return {"lake_by_environment": by_env}


def render_infra_vars(config_dir: Path) -> str:
    """The file as committed: stable key order and a trailing newline, so diffs stay readable."""
    return json.dumps(infra_vars(config_dir), indent=2, sort_keys=True) + "\n"
