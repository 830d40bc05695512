"""Landing paths come from the run, so the same run always names the same files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingestion.land.paths import LandingPaths, path_pattern, run_stamp


def test_paths_follow_the_convention() -> None:
    paths = LandingPaths("landing", "crm", "customers", datetime(2026, 11, 2, 2, 0, 5, tzinfo=UTC))
    assert paths.part(0) == "crm/customers/date=2026-11-02/crm_customers_20261102020005_0000.parquet"
    assert paths.part(12) == "crm/customers/date=2026-11-02/crm_customers_20261102020005_0012.parquet"
    assert paths.manifest == "crm/customers/date=2026-11-02/crm_customers_20261102020005_manifest.json"
    with pytest.raises(ValueError, match=r"outside 0\.\.9999"):
        paths.part(10_000)


def test_stamp_is_the_data_interval_end_else_run_after_in_utc() -> None:
    end = datetime(2026, 11, 2, tzinfo=UTC)
    assert run_stamp(data_interval_end=end, run_after=end + timedelta(hours=3)) == end
    manual = datetime(2026, 11, 2, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert run_stamp(data_interval_end=None, run_after=manual) == datetime(2026, 11, 2, 7, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="needs a data interval end or a run_after"):
        run_stamp(data_interval_end=None, run_after=None)


def test_the_documented_pattern_describes_the_real_names() -> None:
    paths = LandingPaths("landing", "crm", "customers", datetime(2026, 11, 2, 2, 0, 5, tzinfo=UTC))
    pattern = path_pattern("landing", "crm", "customers", "parquet")
    assert pattern == "landing/crm/customers/date=YYYY-MM-DD/crm_customers_<YYYYMMDDHHMMSS[ffffff]>_NNNN.parquet"
    real = f"landing/{paths.part(3)}"
    assert real.startswith("landing/crm/customers/date=2026-11-02/crm_customers_20261102020005_")
    assert real.endswith("_0003.parquet")


def test_two_manual_runs_in_the_same_second_name_different_files() -> None:
    # Defect: stamps had whole seconds, so the second run overwrote the first one's parts and manifest.
    first = LandingPaths("landing", "crm", "orders", datetime(2026, 11, 2, 7, 30, 1, 120_000, tzinfo=UTC))
    second = LandingPaths("landing", "crm", "orders", datetime(2026, 11, 2, 7, 30, 1, 870_500, tzinfo=UTC))
    assert first.manifest != second.manifest
    assert first.part(0) != second.part(0)
    assert first.manifest == "crm/orders/date=2026-11-02/crm_orders_20261102073001120000_manifest.json"
    # Neither shares a prefix with a scheduled run ending at that whole second.
    scheduled = LandingPaths("landing", "crm", "orders", datetime(2026, 11, 2, 7, 30, 1, tzinfo=UTC))
    assert not first.run_prefix.startswith(scheduled.run_prefix)
    assert not scheduled.run_prefix.startswith(first.run_prefix)


def test_a_partitions_names_are_its_own_under_the_runs_prefix() -> None:
    run = LandingPaths("landing", "crm", "customers", datetime(2026, 11, 2, 2, 0, 5, tzinfo=UTC))
    part = run.of_partition(3)
    folder = "crm/customers/date=2026-11-02/crm_customers_20261102020005_"
    assert part.part(0) == f"{folder}p03-0000.parquet"
    assert part.manifest == f"{folder}p03-manifest.json"
    assert part.run_manifest == run.manifest == f"{folder}manifest.json"
    # A partition's cleanup (names under its prefix) never reaches another partition's names or the run's manifest.
    assert not run.of_partition(1).part(0).startswith(part.names_prefix)
    assert not run.manifest.startswith(part.names_prefix)
    assert part.names_prefix.startswith(run.run_prefix)  # the run's cleanup does reach them
