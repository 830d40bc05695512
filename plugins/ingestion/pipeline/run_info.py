"""What a stage needs to know about its DAG run, taken from the Airflow context once (no context beyond here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

# Trigger with the run conf {"full_refresh": true} to reload a cursor entity from the start.
FULL_REFRESH_CONF_KEY = "full_refresh"
# Runs whose files are named after their data interval; other runs (manual, asset-triggered) after their
# run_after, which is unique per run, so a manual run never overwrites the scheduled run of the same interval.
INTERVAL_NAMED_RUN_TYPES = frozenset({"scheduled", "backfill"})


@dataclass(frozen=True)
class RunInfo:
    dag_id: str
    run_id: str
    run_type: str
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime | None
    try_number: int = 1
    conf: dict[str, Any] = field(default_factory=dict)
    partition: int | None = None  # the extract_land partition this task reads (load.partitions), or None

    def in_partition(self, partition: int | None) -> RunInfo:
        return replace(self, partition=partition)

    @property
    def full_refresh(self) -> bool:
        return bool(self.conf.get(FULL_REFRESH_CONF_KEY, False))

    @property
    def is_backfill(self) -> bool:
        return self.run_type == "backfill"

    @property
    def file_stamp_interval_end(self) -> datetime | None:
        """The data interval end the run's files are named after, or None to name them after run_after."""
        return self.data_interval_end if self.run_type in INTERVAL_NAMED_RUN_TYPES else None

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> RunInfo:
        dag_run = context["dag_run"]
        ti = context.get("ti")
        return cls(
            dag_id=dag_run.dag_id,
            run_id=dag_run.run_id,
            run_type=str(getattr(dag_run.run_type, "value", dag_run.run_type)),
            data_interval_start=dag_run.data_interval_start,
            data_interval_end=dag_run.data_interval_end,
            run_after=getattr(dag_run, "run_after", None),
            try_number=int(getattr(ti, "try_number", 1) or 1),
            conf=dict(dag_run.conf or {}),
        )
