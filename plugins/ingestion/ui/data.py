"""What the Ingestion view shows, as JSON-ready dicts: the overview rows (the same `EntityStatus` as `ingest status`)
and one entity's page. The source configs are read again only when a file of the folder changed; the control
database is read on every request, through state/overview.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.config.loader import current_env, load_configs
from ingestion.config.oncall import load_oncall
from ingestion.errors import InvalidSourceConfigError
from ingestion.planner import dag_id_for, find_entity, plan_entity
from ingestion.state.overview import entity_history
from ingestion.status import entity_statuses

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from ingestion.config.loader import LoadResult
    from ingestion.config.models import SourceConfig
    from ingestion.config.oncall import OnCallConfig

RUNS_SHOWN = 30


@dataclass(frozen=True)
class Folder:
    """The configs and rotations of a config folder as last read, and the file stamps they were read at."""

    stamp: tuple[tuple[str, int, int], ...]
    result: LoadResult
    oncall: OnCallConfig | None
    oncall_error: str | None


class ConfigCache:
    """The folder's configs, read again only when a file was added, removed or changed (1,000 entities take a
    second or more to validate; a stat of each file takes milliseconds)."""

    def __init__(self, folder: Path, env: str | None = None) -> None:
        self.folder = folder
        self.env = env or current_env()
        self._lock = threading.Lock()
        self._last: Folder | None = None

    def _stamp(self) -> tuple[tuple[str, int, int], ...]:
        stamps = []
        for path in sorted(self.folder.rglob("*.json")):
            stat = path.stat()
            stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def get(self) -> Folder:
        stamp = self._stamp()
        with self._lock:
            if self._last is None or self._last.stamp != stamp:
                oncall, oncall_error = None, None
                try:
                    oncall = load_oncall(self.folder)
                except InvalidSourceConfigError as error:
                    oncall_error = str(error)
                self._last = Folder(stamp, load_configs(self.folder, self.env), oncall, oncall_error)
            return self._last


def overview(
    folder: Folder, engine: Engine, may_read: Callable[[str], bool], now: datetime | None = None
) -> dict[str, Any]:
    """Every entity of the sources whose DAG the user may read, with its status; the teams, states and kinds to
    filter by; and the configs that are invalid (by file, as the import-error banner names them)."""
    configs = [c for c in folder.result.configs.values() if may_read(dag_id_for(c.name))]
    statuses = entity_statuses(configs, _store(engine), now=now, oncall=folder.oncall)
    entities = [
        {**status.as_dict(), "dag_id": dag_id_for(status.source), "page": f"entities/{status.source}/{status.entity}"}
        for status in statuses
    ]
    return {
        "generated_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "entities": entities,
        "teams": sorted({e["team"] for e in entities}),
        "kinds": sorted({e["kind"] for e in entities}),
        "config_errors": [str(error) for error in folder.result.errors],
        "oncall_error": folder.oncall_error,
    }


def find_config(folder: Folder, source: str, entity: str, may_read: Callable[[str], bool]) -> SourceConfig | None:
    """The entity's source config, or None when there is none or the user may not read its DAG (the same answer, so
    a page does not tell which sources exist)."""
    config = folder.result.configs.get(source)
    if config is None or not may_read(dag_id_for(source)) or entity not in {e.name for e in config.entities}:
        return None
    return config


def entity_page(folder: Folder, config: SourceConfig, entity_name: str, engine: Engine) -> dict[str, Any]:
    """One entity: its status, where it lands and publishes, and its recent runs, check results per run, watermark
    changes, quarantined records and landings waiting for a commit."""
    status = entity_statuses([config], _store(engine), oncall=folder.oncall)
    current = next(s for s in status if s.entity == entity_name)
    plan = plan_entity(config, find_entity(config, entity_name))
    history = entity_history(engine, config.name, entity_name, limit=RUNS_SHOWN)
    runs = [_run_summary(run) for run in history.runs]
    return {
        "status": current.as_dict(),
        "dag_id": dag_id_for(config.name),
        "description": plan.entity.description,
        "load_mode": plan.entity.load.mode,
        "schedule": config.schedule,
        "owners": config.owners.model_dump(),
        "landing_path": plan.landing_path_pattern,
        "topic": plan.topic,
        "runs": runs,
        "checks_by_run": history.checks_by_run,
        "quarantined": _quarantined(history.checks_by_run),
        "watermark_changes": history.watermark_changes,
        "waiting": [
            {k: w[k] for k in ("run_id", "landing_id", "manifest", "topic", "watermark_from", "watermark_to")}
            | {"started_at": w["started_at"]}
            for w in history.waiting
        ],
    }


def _run_summary(run: dict[str, Any]) -> dict[str, Any]:
    seconds = [run["seconds_extract_land"], run["seconds_validate"], run["seconds_publish"]]
    return {
        key: run[key]
        for key in (
            "run_id",
            "load_mode",
            "try_number",
            "window_start",
            "window_end",
            "rows_extracted",
            "rows_landed",
            "rows_published",
            "bytes_landed",
            "seconds_extract_land",
            "seconds_validate",
            "seconds_publish",
            "moved_watermark",
            "committed_at",
        )
    } | {"files": len(run["files"] or []), "seconds_total": round(sum(s or 0 for s in seconds), 3)}


def _quarantined(checks_by_run: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Runs that quarantined records (the `quarantine` check's observation): how many, and the file they went to."""
    out = []
    for run_id, results in checks_by_run.items():
        for result in results:
            observed = result.get("observed") or {}
            if result["kind"] == "quarantine" and observed.get("quarantined"):
                out.append({"run_id": run_id, "records": observed["quarantined"], "file": observed.get("file")})
    return out


def _store(engine: Engine) -> Any:
    from ingestion.state.store import ControlStore

    return ControlStore(engine)
