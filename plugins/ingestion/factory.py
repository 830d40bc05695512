"""The DAG factory: config folder in, DAGs out; broken configs reported, never hiding the valid ones.

Called from the thin files in dags/. With Airflow's parsing context (a worker about to run one task), only that
task's source config is read and only its DAG is built. (A task that needs its entity's plan at execute time reads
it through ingestion.plan_loader, below this module.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.builder import build_dag
from ingestion.config.loader import ConfigError, load_configs
from ingestion.errors import InvalidSourceConfigError
from ingestion.notify.oncall import rotations
from ingestion.paths import config_dir as default_config_dir
from ingestion.planner import plan_source, source_for_dag_id

if TYPE_CHECKING:
    from airflow.sdk import DAG


@dataclass
class FactoryResult:
    dags: dict[str, DAG] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)


def build_dags(config_dir: Path | None = None, *, env: str | None = None, dag_id: str | None = None) -> FactoryResult:
    """Every valid source's DAG, or with `dag_id` (the parsing context) just that one, or none if it is not ours."""
    only = None
    if dag_id is not None:
        only = source_for_dag_id(dag_id)
        if only is None:
            return FactoryResult()
    folder = config_dir or default_config_dir()
    loaded = load_configs(folder, env, only=only)
    result = FactoryResult(errors=loaded.errors)
    # A broken `_oncall.json` is logged and leaves the runbooks without rotations; the DAGs are built all the same.
    teams = rotations(folder).teams if loaded.configs else {}
    for config in loaded.configs.values():
        dag = build_dag(plan_source(config, loaded.env), teams.get(config.owners.team))
        result.dags[dag.dag_id] = dag
    return result


def raise_for_config_errors(config_dir: Path | None = None, *, env: str | None = None) -> None:
    """Raise one InvalidSourceConfigError listing every error of every broken config; return if all are valid."""
    loaded = load_configs(config_dir or default_config_dir(), env)
    if loaded.errors:
        raise InvalidSourceConfigError(loaded.errors)
