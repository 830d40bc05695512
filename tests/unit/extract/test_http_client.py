"""Pure parts of the REST client and paging: rate limit, Retry-After, dotted paths, config guards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import ValidationError

from ingestion.config.models import Entity, HttpLocator
from ingestion.extract.http_client import RateLimiter, _retry_after_seconds
from ingestion.extract.http_pages import dig


def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]


def test_retry_after_as_seconds_or_http_date() -> None:
    assert _retry_after_seconds("3") == 3.0
    assert _retry_after_seconds(None) is None
    assert _retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = _retry_after_seconds(later)
    assert seconds is not None
    assert 25 < seconds <= 30


def test_dig_follows_dotted_paths() -> None:
    body = {"meta": {"next": {"cursor": "abc"}}, "data": [1]}
    assert dig(body, "meta.next.cursor") == "abc"
    assert dig(body, "meta.missing.cursor") is None
    assert dig(body, "") is body


def test_an_absolute_endpoint_is_refused() -> None:
    with pytest.raises(ValidationError, match="must be a path"):
        HttpLocator(endpoint="https://elsewhere.example/v1/orders")


def test_platform_columns_cannot_be_declared() -> None:
    with pytest.raises(ValidationError, match=r"\['_source_file'\] are added by the platform"):
        Entity.model_validate(
            {
                "name": "f",
                "locator": {"kind": "sftp", "remote_path": "in"},
                "columns": [{"name": "_source_file", "type": "string"}],
            }
        )
