"""Which team may work on which DAG, from the source configs alone (pure: no Airflow import).

Each config names its owning team (`owners.team`); the team's role, `team_<team>`, may see, trigger, clear and
backfill the team's `ingest_<source>` DAGs and sees no other team's DAG. The permissions themselves are written by
`fab_roles`, in the FAB auth manager's terms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingestion.planner import dag_id_for

if TYPE_CHECKING:
    from ingestion.config.models import SourceConfig

# The prefix keeps team roles apart from Airflow's own (Admin, Op, User, Viewer, Public) and marks the roles that
# `access sync` manages: it owns every role with this prefix, and only those.
TEAM_ROLE_PREFIX = "team_"


def team_role(team: str) -> str:
    """The Airflow role of the users of `team`."""
    return f"{TEAM_ROLE_PREFIX}{team}"


@dataclass(frozen=True)
class TeamAccess:
    """A team's role and the DAGs its users may work on (sorted)."""

    team: str
    role: str
    dag_ids: tuple[str, ...]


def team_access(configs: Iterable[SourceConfig]) -> tuple[TeamAccess, ...]:
    """One TeamAccess per team that owns at least one of `configs`, sorted by role name."""
    dags_by_team: dict[str, list[str]] = defaultdict(list)
    for config in configs:
        dags_by_team[config.owners.team].append(dag_id_for(config.name))
    return tuple(
        TeamAccess(team=team, role=team_role(team), dag_ids=tuple(sorted(dag_ids)))
        for team, dag_ids in sorted(dags_by_team.items(), key=lambda item: team_role(item[0]))
    )
