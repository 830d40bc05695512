"""One entity's plan from the config folder, as a task needs it at execute time (a stage, a failure notifier).

Only that source's config file is read, so a task sees its config as it is now and never pays for the others.
Sits above the planner and below everything that runs tasks; the factory builds whole DAGs instead.
"""

from __future__ import annotations

from pathlib import Path

from ingestion.config.loader import load_configs
from ingestion.errors import InvalidSourceConfigError, UnknownSourceError
from ingestion.paths import config_dir as default_config_dir
from ingestion.planner import EntityPlan, find_entity, plan_entity


def load_entity_plan(
    source_name: str, entity_name: str, *, config_dir: Path | None = None, env: str | None = None
) -> EntityPlan:
    """One entity's plan from its source's current config file (only that file is read), or a clear error."""
    folder = config_dir or default_config_dir()
    result = load_configs(folder, env, only=source_name)
    if result.errors:
        raise InvalidSourceConfigError(result.errors)
    config = result.configs.get(source_name)
    if config is None:
        raise UnknownSourceError(f"no config for source {source_name!r} in {folder}")
    try:
        entity = find_entity(config, entity_name)
    except KeyError as exc:
        raise UnknownSourceError(exc.args[0]) from None
    return plan_entity(config, entity)
