"""The Ingestion view's FastAPI app, mounted by Airflow's api-server under MOUNT (see plugins/ingestion_ui.py); only
the api-server imports this module (ui/asgi.py builds the app on its first request).

A plugin app is not behind Airflow's auth by itself: every route here depends on Airflow's own `get_user` (the UI's
session cookie or a bearer token from /auth/token, checked by the configured auth manager), so an unauthenticated
request gets 401, and a user sees only the sources whose DAG the auth manager lets them read (a team's role sees its
team's DAGs). Pages are server-rendered HTML with a little vanilla JS; the same data is JSON under /api/.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ingestion.status import STATES
from ingestion.ui.chart import runs_chart
from ingestion.ui.data import ConfigCache, Folder, entity_page, find_config, overview

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

log = logging.getLogger(__name__)

MOUNT = "/ingestion"
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _when(value: str | None) -> str:
    """An ISO timestamp in UTC as the pages show it (the column headers say UTC): `2026-12-02 17:38:40`."""
    return value.replace("T", " ").removesuffix("+00:00") if value else "-"


TEMPLATES.filters["when"] = _when


@functools.cache
def _configs() -> ConfigCache:
    from ingestion.paths import config_dir

    return ConfigCache(config_dir())


@functools.cache
def _engine() -> Engine:
    from ingestion.state.engine import control_engine

    # The api-server is not a machine "where nothing is configured": it never falls back to an embedded SQLite.
    return control_engine(allow_embedded=False)


def _reader(user: Any) -> Callable[[str], bool]:
    """Whether `user` may read a DAG, asked of the auth manager once per DAG id per request."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    manager = get_auth_manager()

    @functools.cache
    def may_read(dag_id: str) -> bool:
        return bool(manager.is_authorized_dag(method="GET", user=user, details=DagDetails(id=dag_id)))

    return may_read


def _folder() -> Folder:
    return _configs().get()


def _control_engine() -> Engine:
    from ingestion.state.errors import ControlDbError

    try:
        return _engine()
    except ControlDbError as error:  # the message names the settings to check, never a URL or password
        _engine.cache_clear()
        raise HTTPException(status_code=503, detail=str(error)) from None


def _prefix(request: Request) -> str:
    """This app's path as the browser sees it (the api-server's base path, then MOUNT)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _filtered(data: dict[str, Any], team: str | None, state: str | None, kind: str | None) -> dict[str, Any]:
    wanted = {"team": team, "state": state, "kind": kind}
    entities = [e for e in data["entities"] if all(not v or e[k] == v for k, v in wanted.items())]
    return {**data, "entities": entities}


def create_app() -> FastAPI:
    app = FastAPI(title="Ingestion", description=__doc__, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/api/entities")
    def entities_json(
        user: GetUserDep,
        team: Annotated[str | None, Query()] = None,
        state: Annotated[str | None, Query()] = None,
        kind: Annotated[str | None, Query()] = None,
    ) -> dict[str, Any]:
        """Every entity the user may read, with its state, as `scripts/ingest status --json` gives it."""
        return _filtered(overview(_folder(), _control_engine(), _reader(user)), team, state, kind)

    @app.get("/api/entities/{source}/{entity}")
    def entity_json(source: str, entity: str, user: GetUserDep) -> dict[str, Any]:
        folder = _folder()
        config = find_config(folder, source, entity, _reader(user))
        if config is None:
            raise HTTPException(status_code=404, detail=f"no entity {source}.{entity} in a config you may read")
        return entity_page(folder, config, entity, _control_engine())

    @app.get("/", response_class=HTMLResponse)
    def overview_page(
        request: Request,
        user: GetUserDep,
        team: Annotated[str | None, Query()] = None,
        state: Annotated[str | None, Query()] = None,
        kind: Annotated[str | None, Query()] = None,
    ) -> HTMLResponse:
        data = overview(_folder(), _control_engine(), _reader(user))
        html = TEMPLATES.get_template("overview.html").render(
            data=data,
            states=STATES,
            chosen={"team": team, "state": state, "kind": kind},
            prefix=_prefix(request),
        )
        return HTMLResponse(html)

    @app.get("/entities/{source}/{entity}", response_class=HTMLResponse)
    def entity_html(request: Request, source: str, entity: str, user: GetUserDep) -> HTMLResponse:
        folder = _folder()
        config = find_config(folder, source, entity, _reader(user))
        if config is None:
            raise HTTPException(status_code=404, detail=f"no entity {source}.{entity} in a config you may read")
        data = entity_page(folder, config, entity, _control_engine())
        prefix = _prefix(request)
        html = TEMPLATES.get_template("entity.html").render(
            data=data,
            s=data["status"],
            chart=runs_chart(data["runs"]),
            committed={r["run_id"] for r in data["runs"]},
            fmt=lambda seconds: "-" if seconds is None else f"{seconds:.1f}",
            prefix=prefix,
            airflow=prefix.removesuffix(MOUNT),
        )
        return HTMLResponse(html)

    return app
