"""Where a stage keeps a run's state: the control database and the landing zone's containers.

Stages take it as an argument (default: the configured control DB and the entity's landing connection), so their
decisions can be tested on an SQLite control store and a lake held in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingestion.land.lake_api import LakeContainer
    from ingestion.planner import EntityPlan
    from ingestion.state.store import ControlStore


@dataclass(frozen=True)
class StageStorage:
    control_store: Callable[[], AbstractContextManager[ControlStore]]  # one store per use, closed after it
    lake: Callable[[str], LakeContainer]  # a container of the entity's landing connection, by name

    @classmethod
    def of(cls, plan: EntityPlan) -> StageStorage:
        from ingestion.state.store import open_control_store

        def lake(container: str) -> LakeContainer:
            from ingestion.land.lake import Lake

            return Lake.from_conn_id(plan.landing.conn_id, container)

        return cls(control_store=open_control_store, lake=lake)

    def landing(self, plan: EntityPlan) -> LakeContainer:
        """The entity's landing container (general zone)."""
        return self.lake(plan.landing.container)
