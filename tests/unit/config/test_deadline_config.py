"""deadline.finish_by: only for daily schedules, and the offset from a run's logical date to that time of day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from ingestion.builder import finish_by_offset
from ingestion.config.models import SourceConfig, daily_run_time

BASE = {
    "name": "s",
    "owners": {"primary": "a@example.com", "team": "t"},
    "start_date": "2026-11-01T00:00:00Z",
    "kind": "sftp",
    "conn_id": "c",
    "entities": [{"name": "e", "locator": {"kind": "sftp", "remote_path": "in"}}],
}


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [("@daily", (0, 0)), ("30 6 * * *", (6, 30)), ("*/30 * * * *", None), ("0 6 * * 1", None), ("0 24 * * *", None)],
)
def test_daily_run_time(schedule: str, expected: tuple[int, int] | None) -> None:
    assert daily_run_time(schedule) == expected


@pytest.mark.parametrize(
    ("run_time", "finish_by", "hours"),
    [((6, 0), "08:00", 26), ((2, 0), "04:00", 26), ((22, 0), "01:30", 27.5), ((6, 0), "06:00", 24)],
)
def test_finish_by_counts_from_the_logical_date_a_day_before(
    run_time: tuple[int, int], finish_by: str, hours: float
) -> None:
    assert finish_by_offset(run_time, finish_by) == timedelta(hours=hours)


def test_finish_by_without_a_daily_schedule_is_refused() -> None:
    SourceConfig.model_validate({**BASE, "schedule": "0 6 * * *", "deadline": {"finish_by": "08:00"}})
    with pytest.raises(ValidationError, match=r"deadline\.finish_by needs a schedule that runs once a day"):
        SourceConfig.model_validate({**BASE, "schedule": "*/30 * * * *", "deadline": {"finish_by": "08:00"}})
