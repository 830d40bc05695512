"""A timestamp or date outside 0001-01-01 .. 9999-12-31 (UTC, after the source zone's conversion) is no value the lake,
the JSON messages or Python can carry: Postgres `infinity` and `-infinity`, a BC date, a wall-clock time late on
9999-12-31 of a zone behind UTC. The run fails naming the column and the row, never quoting the value (before, it
landed and published "<value out of range: ...>Z", "10000-01-0T ..." or year 0000)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from tests.integration.support import run_stages, source_config, write_configs
from tests.integration.test_type_matrix import END, ENGINES, RUN_ID, TypeCase, type_table

NEW_YORK = "America/New_York"


@pytest.mark.parametrize(
    ("engine", "sql", "literal", "zone", "logical"),
    [
        ("postgres", "timestamptz", "'infinity'", "UTC", "timestamp"),
        ("postgres", "timestamptz", "'-infinity'", "UTC", "timestamp"),
        ("postgres", "timestamptz", "'0001-01-01 00:00:00+00 BC'", "UTC", "timestamp"),
        ("postgres", "timestamp", "'9999-12-31 23:00:00'", NEW_YORK, "timestamp"),
        ("mariadb", "DATETIME(6)", "'9999-12-31 23:00:00'", NEW_YORK, "timestamp"),
        # Dates too: published as "<value out of range: -2147472692>" and "-0043-03-15" before.
        ("postgres", "date", "'infinity'", "UTC", "date"),
        ("postgres", "date", "'-infinity'", "UTC", "date"),
        ("postgres", "date", "'0044-03-15 BC'", "UTC", "date"),
    ],
    ids=[
        "pg-infinity",
        "pg-minus-infinity",
        "pg-bc",
        "pg-past-9999-in-utc",
        "mariadb-past-9999-in-utc",
        "pg-date-infinity",
        "pg-date-minus-infinity",
        "pg-date-bc",
    ],
)
def test_a_timestamp_or_date_outside_years_1_to_9999_fails_naming_the_column_and_row(
    engine: str, sql: str, literal: str, zone: str, logical: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = TypeCase("at", sql, "", ["'2024-01-02 10:00:00'", literal, "'2024-01-03 10:00:00'", "'2024-01-04'"], [], [])
    table = f"tr{uuid.uuid4().hex[:8]}"
    with type_table(engine, [case], table):
        entity = {
            "name": "types",
            "locator": {"kind": "sql", "schema": "public" if engine == "postgres" else None, "table": table},
            "primary_key": ["id"],
            "columns": [{"name": "id", "type": "integer", "nullable": False}, {"name": "at", "type": logical}],
            "load": {"mode": "full"},
        }
        config = source_config(table, "sql", ENGINES[engine][0], [entity], retries={"count": 0}, source_timezone=zone)
        monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
        with pytest.raises(AirflowFailException) as failure:
            run_stages(table, "types", RUN_ID, END, stages=("extract_land",))
    message = str(failure.value)
    assert f"column 'at': row 2 of the read holds a {logical} (outside years 1 to 9999" in message
    for value in ("infinity", "9999-12-31", "23:00", "10000", "0000-", "0044", "BC", "out of range:"):
        assert value not in message


@pytest.mark.parametrize("zone", ["UTC", NEW_YORK])
def test_a_mariadb_zero_datetime_fails_naming_the_column_and_row_in_any_source_zone(
    zone: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a zone other than UTC it failed with Arrow's unnamed "ZeroDate cannot be converted to int"."""
    literals = ["'2024-01-02 10:00:00'", "'0000-00-00 00:00:00'", "'2024-01-03 10:00:00'", "'2024-01-04'"]
    case = TypeCase("at", "DATETIME(6)", "", literals, [], [])
    table = f"tr{uuid.uuid4().hex[:8]}"
    with type_table("mariadb", [case], table):
        entity = {
            "name": "types",
            "locator": {"kind": "sql", "schema": None, "table": table},
            "primary_key": ["id"],
            "columns": [{"name": "id", "type": "integer", "nullable": False}, {"name": "at", "type": "timestamp"}],
            "load": {"mode": "full"},
        }
        config = source_config(
            table, "sql", ENGINES["mariadb"][0], [entity], retries={"count": 0}, source_timezone=zone
        )
        monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
        with pytest.raises(AirflowFailException) as failure:
            run_stages(table, "types", RUN_ID, END, stages=("extract_land",))
    message = str(failure.value)
    assert "column 'at': row 2 of the read holds a ZeroDate value" in message
    assert "0000" not in message
