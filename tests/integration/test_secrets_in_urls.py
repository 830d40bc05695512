"""Credentials that travel in a URL's query string stay out of logs and errors: an API key sent as a query parameter
(a sample API of this test's own accepts it, percent-encoded since it holds `+`, `/` and `=`) and a Teams Workflows
webhook's `sig`.

What a task log would show is what Airflow's secrets masker leaves of the log records (the masker is what the task
runner applies to every line); errors are checked as raised, with what they chain, since Airflow logs the chain and
alerts and the control DB carry the text.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
import requests
from airflow.sdk._shared.secrets_masker import redact as airflow_masked

from ingestion.config.models import HttpOptions
from ingestion.extract.errors import SourceUnreachableError
from ingestion.extract.http_client import ApiClient
from ingestion.notify.alert import Alert
from ingestion.notify.notifiers import post_alert
from tests.integration.support import free_port, sample_api_process

API_KEY = f"Zq81+canary/{uuid.uuid4().hex[:8]}=="  # characters a URL encodes
SIG = f"SigCanary{uuid.uuid4().hex}"


def _spellings(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}


def _leaks(text: str, secret: str) -> list[str]:
    return [s for s in _spellings(secret) if s in text]


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with sample_api_process(API_KEY) as url:
        yield url


def _connection(monkeypatch: pytest.MonkeyPatch, port: int, param: str) -> str:
    conn_id = f"key_{uuid.uuid4().hex[:8]}"
    connection = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": port,
        "schema": "http",
        "password": API_KEY,
        "extra": {"auth": "api_key", "api_key_param": param},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """The captured log lines as a task log would hold them: through Airflow's secrets masker."""
    return "\n".join(str(airflow_masked(record.getMessage())) for record in caplog.records)


def test_an_api_key_sent_as_a_query_parameter_is_masked_in_every_spelling(
    api: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 logs each request line, query string included, at DEBUG
    client = ApiClient(_connection(monkeypatch, int(api.rsplit(":", 1)[1]), "api_key"), HttpOptions(), where="t.orders")
    body, _ = client.get("/v1/orders", {"page": 1, "page_size": 5})
    assert len(body["data"]) == 5  # the API took the key
    raw = "\n".join(record.getMessage() for record in caplog.records)
    assert quote_plus(API_KEY) in raw  # not vacuous: the request line with the encoded key was logged
    assert _leaks(_logged(caplog), API_KEY) == []


def test_a_source_that_does_not_answer_fails_without_the_key_in_the_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    options = HttpOptions(max_attempts=2, max_retry_wait_seconds=1)
    conn_id = _connection(monkeypatch, free_port(), "key")  # nothing listens there
    client = ApiClient(conn_id, options, where="t.orders")
    with pytest.raises(SourceUnreachableError) as raised:
        client.get("/v1/orders", {"page": 1})
    shown = "".join(traceback.format_exception(raised.value))  # the error and its chain, as a task log shows them
    assert _leaks(shown, API_KEY) == []
    assert "GET /v1/orders failed after 2 tries: ConnectionError" in shown
    assert _leaks(_logged(caplog), API_KEY) == []


def _alert() -> Alert:
    return Alert(
        kind="failure",
        severity="high",
        title="t.orders: extract_land failed",
        source="t",
        entity="orders",
        dag_id="ingest_t",
        task_id="orders.extract_land",
        run_id="manual__1",
        try_number=1,
        error="SourceUnreachableError: down",
        owner="ana@example.com",
        secondary_owner=None,
        team="t",
        run_url=None,
        runbook_url=None,
    )


def _teams_connection(monkeypatch: pytest.MonkeyPatch, port: int) -> str:
    conn_id = f"teams_{uuid.uuid4().hex[:8]}"
    webhook = f"http://127.0.0.1:{port}/hooks/teams?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
    connection = {"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http", "password": webhook}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


def test_a_teams_webhook_sig_stays_out_of_logs_when_the_post_goes_through(
    webhook_sink_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    requests.delete(f"{webhook_sink_url}/_posts", timeout=10)
    post_alert(_teams_connection(monkeypatch, int(webhook_sink_url.rsplit(":", 1)[1])), _alert())
    posts = requests.get(f"{webhook_sink_url}/_posts", params={"channel": "teams"}, timeout=10).json()
    assert any("t.orders: extract_land failed" in json.dumps(post["body"]) for post in posts)
    assert SIG in "\n".join(record.getMessage() for record in caplog.records)  # not vacuous: urllib3 logged it
    assert _leaks(_logged(caplog), SIG) == []


def test_a_teams_webhook_that_does_not_answer_fails_without_its_sig(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - any error: what matters is its text
        post_alert(_teams_connection(monkeypatch, free_port()), _alert())
    shown = "".join(traceback.format_exception(raised.value))
    assert "ConnectionError" in shown
    assert _leaks(shown, SIG) == []
    assert _leaks(_logged(caplog), SIG) == []
