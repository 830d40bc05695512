"""The sample REST API through the provider's HttpHook: paging, auth, and 429 with Retry-After."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import requests
import tenacity
from airflow.providers.common.compat.sdk import AirflowException
from airflow.providers.http.hooks.http import HttpHook


def _auth() -> dict[str, str]:
    token = json.loads(os.environ["AIRFLOW_CONN_ORDERS_API"])["password"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def fresh_api(sample_api_url: str) -> Iterator[str]:
    requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()
    yield sample_api_url
    requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()


def test_reads_two_pages() -> None:
    hook = HttpHook(method="GET", http_conn_id="orders_api")
    first = hook.run("/v1/orders", data={"page": 1, "page_size": 100}, headers=_auth()).json()
    second = hook.run("/v1/orders", data={"page": first["meta"]["next_page"], "page_size": 100}, headers=_auth()).json()
    assert len(first["data"]) == 100
    assert len(second["data"]) == 100
    assert first["meta"]["total"] == 250
    ids = [r["id"] for r in first["data"] + second["data"]]
    assert len(set(ids)) == 200  # no overlap between pages


def test_missing_token_is_refused() -> None:
    with pytest.raises(AirflowException, match="401"):
        HttpHook(method="GET", http_conn_id="orders_api").run("/v1/orders")


def test_429_then_success_on_retry(sample_api_url: str) -> None:
    requests.post(f"{sample_api_url}/_control/faults", json={"status": 429, "count": 1, "retry_after": 1}, timeout=5)
    hook = HttpHook(method="GET", http_conn_id="orders_api")
    waits: list[float] = []

    def wait_retry_after(state: tenacity.RetryCallState) -> float:
        response = state.outcome.result() if state.outcome and not state.outcome.failed else None
        seconds = float(response.headers.get("Retry-After", 1)) if response is not None else 1.0
        waits.append(seconds)
        return seconds

    response = hook.run_with_advanced_retry(
        _retry_args={
            "retry": tenacity.retry_if_result(lambda r: r.status_code == 429),
            "wait": wait_retry_after,
            "stop": tenacity.stop_after_attempt(3),
        },
        endpoint="/v1/orders",
        data={"page": 1},
        headers=_auth(),
        extra_options={"check_response": False},
    )
    assert response.status_code == 200
    assert len(response.json()["data"]) == 50
    assert waits == [1.0]  # one 429, whose Retry-After was honoured
    stats = requests.get(f"{sample_api_url}/_control/stats", timeout=5).json()
    assert stats["requests_served"] == 2
