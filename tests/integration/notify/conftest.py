"""Fixtures of the alert tests: a control database and a Teams channel that belong to one test, so other tests'
alerts neither count against its throttle nor get summarised by its digest (and its own stay out of theirs)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import URL, create_engine

from ingestion.state.store import ControlStore


@pytest.fixture
def control_url(stack_env: dict[str, str]) -> Iterator[str]:
    """The URL of a control database of the test's own: a fresh schema of the stack's control database with the
    control tables, first on the search path; dropped afterwards."""
    conn = json.loads(stack_env["AIRFLOW_CONN_CONTROL_DB"])
    schema = f"alerts_{uuid.uuid4().hex[:10]}"
    url = URL.create(
        "postgresql+psycopg",
        username=conn["login"],
        password=conn["password"],
        host=conn["host"],
        port=conn["port"],
        database=conn["schema"],
        query={"options": f"-csearch_path={schema}"},
    )
    admin = create_engine(url)
    try:
        with admin.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        # Created here, as in a deployment, where the stages have long created them: twenty processes creating
        # them at once in a fresh schema race each other, which is not what the tests are about.
        ControlStore(admin).ensure_schema()
        yield url.render_as_string(hide_password=False)
        with admin.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()


@pytest.fixture
def teams_channel(webhook_sink_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A Teams channel (Airflow connection id, in the environment) of the test's own; the sink records its posts
    under the same name."""
    conn_id = f"teams_{uuid.uuid4().hex[:8]}"
    sink = urlsplit(webhook_sink_url)
    conn = {
        "conn_type": "http",
        "host": sink.hostname,
        "port": sink.port,
        "schema": sink.scheme,
        "password": f"{webhook_sink_url}/hooks/{conn_id}",
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id
