"""Write the team roles into the FAB auth manager's tables (`scripts/ingest access sync`).

A team role has what Airflow's built-in User role has, on the team's own DAGs only:
- every Viewer and User permission that is not about all DAGs at once (runs, task instances, logs, XComs, backfills,
  pools, ...). For anything belonging to a DAG, Airflow checks such a permission together with the one on the DAG
  itself (`DAG:<dag_id>`): reading needs `can_read` on it, every change `can_edit`. So these reach no other DAG;
- `can_read` and `can_edit` on `DAG:<dag_id>` for each of the team's DAGs: edit is what triggering, clearing,
  pausing and creating a backfill need;
- not `can_read` / `can_edit` on `DAGs` (every DAG), not `can_delete` (deleting a DAG's history is an admin's job),
  and not creating asset events, which would start other teams' asset-scheduled DAGs.

The sync is declarative, so a role cannot drift from the configs: each `team_*` role ends with exactly these
permissions (a permission added by hand is removed, a DAG whose config moved to another team is taken away), and a
`team_*` role that no config names any more keeps none. Airflow's own roles (Admin, Op, User, Viewer) are left alone;
Admin keeps every DAG. DAGs carry no `access_control`: the permissions come from here only.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ingestion.access.errors import AccessSyncError
from ingestion.access.teams import TEAM_ROLE_PREFIX, TeamAccess

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
Permission = tuple[str, str]  # (action, resource), as FAB names them: ("can_edit", "DAG:ingest_crm")


def team_base_permissions() -> frozenset[Permission]:
    """What every team role has whatever its DAGs: Airflow's Viewer and User permissions, less those on all DAGs
    and creating asset events."""
    from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
    from airflow.providers.fab.www.security import permissions

    every_dag = {
        (permissions.ACTION_CAN_READ, permissions.RESOURCE_DAG),
        (permissions.ACTION_CAN_EDIT, permissions.RESOURCE_DAG),
        (permissions.ACTION_CAN_DELETE, permissions.RESOURCE_DAG),
    }
    asset_events = {(permissions.ACTION_CAN_CREATE, permissions.RESOURCE_ASSET)}
    user_role = (
        FabAirflowSecurityManagerOverride.VIEWER_PERMISSIONS + FabAirflowSecurityManagerOverride.USER_PERMISSIONS
    )
    return frozenset(user_role) - every_dag - asset_events


def dag_permissions(dag_ids: Iterable[str]) -> frozenset[Permission]:
    """Reading and changing each of `dag_ids` (and what belongs to it: runs, task instances, logs)."""
    from airflow.providers.fab.www.security import permissions

    return frozenset(
        (action, permissions.resource_name(dag_id, permissions.RESOURCE_DAG))
        for dag_id in dag_ids
        for action in (permissions.ACTION_CAN_READ, permissions.ACTION_CAN_EDIT)
    )


def role_permissions(access: TeamAccess | None) -> frozenset[Permission]:
    """Every permission a team role should have; none for a team role no config names any more."""
    if access is None:
        return frozenset()
    return team_base_permissions() | dag_permissions(access.dag_ids)


@dataclass(frozen=True)
class RoleSync:
    """What the sync did to one team role."""

    role: str
    dag_ids: tuple[str, ...]  # empty: no config names the team any more
    created: bool
    granted: tuple[Permission, ...]
    revoked: tuple[Permission, ...]

    def describe(self) -> str:
        change = "created" if self.created else "updated" if self.granted or self.revoked else "unchanged"
        dags = f"DAGs: {', '.join(self.dag_ids)}" if self.dag_ids else "no config names this team any more"
        return f"{self.role}: {change} (+{len(self.granted)} -{len(self.revoked)} permissions); {dags}"


def _held(role: Any) -> dict[Permission, Any]:
    return {(p.action.name, p.resource.name): p for p in role.permissions if p.action and p.resource}


def _sync_role(security_manager: Any, name: str, access: TeamAccess | None) -> RoleSync:
    role = security_manager.find_role(name)
    created = role is None
    if role is None:
        role = security_manager.add_role(name)
    wanted = role_permissions(access)
    held = _held(role)
    granted = sorted(wanted - held.keys())
    revoked = sorted(held.keys() - wanted)
    for action, resource in granted:
        security_manager.add_permission_to_role(role, security_manager.create_permission(action, resource))
    for permission in revoked:
        security_manager.remove_permission_from_role(role, held[permission])
    # FAB logs and swallows a failed grant or revoke: read the role back, so a sync that did not take says so.
    security_manager.session.expire_all()
    now = set(_held(security_manager.find_role(name)))
    if now != wanted:
        missing = ", ".join(f"{a} on {r}" for a, r in sorted(wanted - now)) or "-"
        extra = ", ".join(f"{a} on {r}" for a, r in sorted(now - wanted)) or "-"
        raise AccessSyncError(f"role {name} did not take its permissions: missing {missing}; extra {extra}")
    return RoleSync(
        role=name,
        dag_ids=access.dag_ids if access else (),
        created=created,
        granted=tuple(granted),
        revoked=tuple(revoked),
    )


def sync_team_roles(security_manager: Any, teams: Iterable[TeamAccess]) -> list[RoleSync]:
    """Bring every team role to what `teams` says (creating the missing ones), and strip every other `team_*` role.
    `security_manager` is the FAB auth manager's (see `fab_security_manager`)."""
    wanted = {access.role: access for access in teams}
    existing = {role.name for role in security_manager.get_all_roles() if role.name.startswith(TEAM_ROLE_PREFIX)}
    return [_sync_role(security_manager, name, wanted.get(name)) for name in sorted(wanted.keys() | existing)]


@contextmanager
def fab_security_manager() -> Iterator[Any]:
    """The FAB auth manager's security manager on Airflow's metadata database, as `airflow roles` uses it.
    Raises AccessSyncError when Airflow is configured with another auth manager: roles written then would have no
    effect, and the deployment would look protected while it is not."""
    from airflow.configuration import conf
    from airflow.providers_manager import ProvidersManager

    configured = conf.get("core", "auth_manager")
    if not configured.endswith("FabAuthManager"):
        raise AccessSyncError(
            f"Airflow's auth manager is {configured}: team roles need the FAB auth manager "
            f"(set AIRFLOW__CORE__AUTH_MANAGER={FAB_AUTH_MANAGER}, and run `airflow db migrate` first)"
        )
    ProvidersManager().initialize_providers_configuration()  # the [fab] settings the app builder reads
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    # FAB logs a line per permission it creates or grants (a few hundred on a first sync): the caller reports the
    # outcome per role instead. Warnings and errors still show.
    for name in ("airflow.providers.fab", "flask_appbuilder"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # Deprecation notices of the Flask app FAB builds (starlette's WSGI middleware, flask-limiter's storage).
        warnings.simplefilter("ignore")
        with get_application_builder() as appbuilder:
            yield appbuilder.sm
