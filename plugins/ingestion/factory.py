"""The DAG factory: config folder in, DAGs out; broken configs reported, never hiding the valid ones.

Called from the thin files in dags/. With Airflow's parsing context (a worker about to run one task), only that
task's source config is read and only its DAG is built. (A task that needs its entity's plan at execute time reads
it through ingestion.plan_loader, below this module.)

Each source is planned and built on its own: a config the models accept but Airflow refuses (or any other exception
while planning or building) costs that source's DAG and becomes a config error naming its file. The DAG file is one
Python module, so an exception leaving it would take every source's DAG and the platform DAGs down with it.
"""

from __future__ import annotations

import logging
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.builder import build_dag
from ingestion.config.loader import ENV_VAR, OVERLAYS_DIR, ConfigError, current_env, env_without_overlay, load_configs
from ingestion.errors import InvalidSourceConfigError
from ingestion.notify.oncall import rotations
from ingestion.paths import config_dir as default_config_dir
from ingestion.planner import plan_source, source_for_dag_id

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from ingestion.config.models import SourceConfig
    from ingestion.config.oncall import Rotation

log = logging.getLogger(__name__)
# An exception's text in a config error: one line (Airflow's messages span several), short enough for the import error.
MAX_BUILD_ERROR_CHARS = 300


@dataclass
class FactoryResult:
    dags: dict[str, DAG] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)


def build_dags(
    config_dir: Path | None = None, *, env: str | None = None, dag_id: str | None = None, register: bool = True
) -> FactoryResult:
    """Every valid source's DAG, or with `dag_id` (the parsing context) just that one, or none if it is not ours.

    `register=False` builds the DAGs without registering them with the DAG file being parsed: the config-errors file
    builds them only to find the sources whose DAG cannot be built, and must not hold a second copy of each DAG."""
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
        built = _build_one(config, loaded.env, teams.get(config.owners.team), folder, register=register)
        if isinstance(built, ConfigError):
            result.errors.append(built)
        else:
            result.dags[built.dag_id] = built
    return result


def _build_one(
    config: SourceConfig, env: str, rotation: Rotation | None, folder: Path, *, register: bool
) -> DAG | ConfigError:
    """The source's DAG, or the config error saying why it cannot be built (see the module docstring)."""
    try:
        return build_dag(plan_source(config, env), rotation, register=register)
    except Exception as exc:  # noqa: BLE001 - one source's DAG must never cost the others theirs
        text = re.sub(r"\s+", " ", str(exc)).strip()[:MAX_BUILD_ERROR_CHARS]
        # The loader refuses a config whose name is not its file's stem: the file is <name>.json.
        error = ConfigError(
            str(folder / f"{config.name}.json"), "$", f"cannot build its DAG: {type(exc).__name__}: {text}"
        )
        # The masked error and the frames, not log.exception: the exception's own text may hold a config value.
        log.error("%s\n%s", error, "".join(traceback.format_tb(exc.__traceback__)))
        return error


def raise_for_config_errors(config_dir: Path | None = None, *, env: str | None = None) -> None:
    """Raise one InvalidSourceConfigError listing every error of every broken config, and every source whose DAG
    cannot be built; return if all are valid. Builds every DAG (unregistered) for the latter: only building finds
    what Airflow refuses."""
    folder = config_dir or default_config_dir()
    result = build_dags(folder, env=env, register=False)
    errors = result.errors
    if folder.is_dir() and (why := env_without_overlay(folder, env or current_env())) is not None:
        # Loud, not fatal: the DAGs still load (ingestion_dags.py does not ask), but the UI's banner says the
        # deployment plans every source with the defaults alone.
        where = str(folder / OVERLAYS_DIR)
        errors = [ConfigError(where, "$", f"{ENV_VAR} {env or current_env()!r} {why}"), *errors]
    if errors:
        raise InvalidSourceConfigError(errors)
