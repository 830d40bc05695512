"""The retention plan on a fixed day: which partitions move to the archive tier, which are deleted, which are held."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ingestion.config.models import Retention
from ingestion.land.retention_plan import (
    ARCHIVE_TIER,
    ActionKind,
    Partition,
    Periods,
    StoredBlob,
    Zone,
    control_period,
    partition_day,
    periods_for,
    plan_entity,
)

TODAY = date(2026, 12, 2)
RETENTION = Retention(raw_days=30, archive_days=365, sensitive_days=20, quarantine_days=7)


def partition(age: int, zone: Zone = Zone.LANDING, *, tier: str | None = "Hot", stamp: str = "") -> Partition:
    day = TODAY - timedelta(days=age)
    prefix = f"crm/customers/date={day:%Y-%m-%d}/"
    stamp = stamp or f"{day:%Y%m%d}020000"
    blobs = (
        StoredBlob(f"{prefix}crm_customers_{stamp}_0000.parquet", 100, tier),
        StoredBlob(f"{prefix}crm_customers_{stamp}_manifest.json", 10, "Hot"),
    )
    return Partition(zone, "landing", "crm", "customers", day, prefix, blobs)


def always(_: Partition) -> bool:
    return True


def test_partitions_past_raw_days_are_archived_and_past_archive_days_deleted() -> None:
    ages = [0, 1, 30, 31, 200, 365, 366, 399]
    plan = plan_entity([partition(a) for a in ages], periods_for(RETENTION, Zone.LANDING), TODAY, always)
    by_age = {(TODAY - a.partition.day).days: a for a in plan.actions}
    assert sorted(by_age) == [31, 200, 365, 366, 399]
    assert {age for age, a in by_age.items() if a.kind is ActionKind.ARCHIVE} == {31, 200, 365}
    assert {age for age, a in by_age.items() if a.kind is ActionKind.DELETE} == {366, 399}
    assert plan.held == ()


def test_archiving_leaves_the_manifest_hot_and_deleting_takes_it_last() -> None:
    archive, delete = plan_entity(
        [partition(0), partition(40), partition(400)], periods_for(RETENTION, Zone.LANDING), TODAY, always
    ).actions
    assert [n.rsplit("_", 1)[-1] for n in archive.blobs] == ["0000.parquet"]
    assert archive.bytes == 100
    assert [n.rsplit("_", 1)[-1] for n in delete.blobs] == ["0000.parquet", "manifest.json"]
    assert delete.bytes == 110
    assert archive.reason == "40 days old, retention.raw_days is 30"
    assert delete.line() == (
        "delete landing/crm/customers/date=2025-10-28/: 2 blob(s), 110 bytes (400 days old, retention.archive_days "
        "is 365)"
    )


def test_a_partition_archived_already_needs_nothing_more_until_it_is_deleted() -> None:
    plan = plan_entity(
        [partition(0), partition(40, tier=ARCHIVE_TIER)], periods_for(RETENTION, Zone.LANDING), TODAY, always
    )
    assert plan.actions == ()
    assert plan.held == ()


def test_a_partition_with_a_run_not_committed_is_held_whatever_its_age() -> None:
    uncommitted = {partition(400).day, partition(50).day}
    plan = plan_entity(
        [partition(a) for a in (0, 50, 400, 401)],
        periods_for(RETENTION, Zone.LANDING),
        TODAY,
        lambda p: p.day not in uncommitted,
    )
    assert [(TODAY - a.partition.day).days for a in plan.actions] == [401]
    assert sorted((TODAY - h.partition.day).days for h in plan.held) == [50, 400]
    assert {h.reason for h in plan.held} == {"holds a run that is not committed"}


def test_the_newest_committed_partition_is_kept_whatever_the_settings() -> None:
    # A source quiet for over a year: its last good landing stays; the one before it, and an uncommitted newer
    # one, do not change that.
    partitions = [partition(500), partition(600), partition(450)]
    plan = plan_entity(partitions, periods_for(RETENTION, Zone.LANDING), TODAY, lambda p: p.day != partition(450).day)
    assert [(TODAY - a.partition.day).days for a in plan.actions] == [600]
    assert [((TODAY - h.partition.day).days, h.reason) for h in plan.held] == [
        (450, "holds a run that is not committed"),
        (500, "the entity's newest committed partition"),
    ]


def test_sensitive_and_quarantine_partitions_are_deleted_after_their_own_periods_never_archived() -> None:
    for zone, days in ((Zone.SENSITIVE, 20), (Zone.QUARANTINE, 7)):
        plan = plan_entity(
            [partition(0, zone), partition(days, zone), partition(days + 1, zone), partition(300, zone)],
            periods_for(RETENTION, zone),
            TODAY,
            always,
        )
        assert [(a.kind, (TODAY - a.partition.day).days) for a in plan.actions] == [
            (ActionKind.DELETE, days + 1),
            (ActionKind.DELETE, 300),
        ]


def test_a_blob_not_named_like_a_run_file_means_nobody_can_say_the_partition_is_committed() -> None:
    plain = partition(400)
    odd = Partition(
        plain.zone,
        plain.container,
        plain.source,
        plain.entity,
        plain.day,
        plain.prefix,
        (*plain.blobs, StoredBlob(f"{plain.prefix}notes.txt", 5)),
    )
    assert plain.run_stamps() == {f"{plain.day:%Y%m%d}020000"}
    assert odd.run_stamps() is None


def test_the_day_comes_from_the_date_folder_only() -> None:
    assert partition_day("crm/customers/date=2026-01-31/crm_customers_20260131020000_0000.parquet") == date(2026, 1, 31)
    assert partition_day("crm/customers/date=2026-02-30/x.parquet") is None
    assert partition_day("crm/customers/x.parquet") is None


def test_the_plan_summary_sums_partitions_and_bytes_per_kind() -> None:
    plan = plan_entity(
        [partition(0), partition(40), partition(50), partition(400)],
        periods_for(RETENTION, Zone.LANDING),
        TODAY,
        always,
    )
    assert (
        plan.summary()
        == "archive 2 partition(s), 200 bytes; delete 1 partition(s), 110 bytes; held back 0 partition(s)"
    )


@pytest.mark.parametrize(
    ("settings", "landing", "sensitive", "quarantine"),
    [
        ({}, (30, 365), 30, 14),
        ({"sensitive_days": 20, "quarantine_days": 7}, (30, 365), 20, 7),
        ({"raw_days": 60, "archive_days": 30}, (None, 60), 30, 14),  # archive not longer than raw: never archived
        ({"raw_days": 5, "archive_days": 10, "sensitive_days": 90, "quarantine_days": 120}, (5, 10), 10, 10),
        ({"sensitive_days": 20, "quarantine_days": 40}, (30, 365), 20, 20),
    ],
)
def test_zone_periods_never_outlive_the_landing_partition_nor_quarantine_the_sensitive_one(
    settings: dict[str, int], landing: tuple[int | None, int], sensitive: int, quarantine: int
) -> None:
    retention = Retention(**settings)
    landing_periods = periods_for(retention, Zone.LANDING)
    assert (landing_periods.archive_after_days, landing_periods.delete_after_days) == landing
    assert periods_for(retention, Zone.SENSITIVE) == Periods(None, sensitive, "", "retention.sensitive_days")
    assert periods_for(retention, Zone.QUARANTINE) == Periods(None, quarantine, "", "retention.quarantine_days")


def test_the_control_db_keeps_rows_at_least_as_long_as_the_lake_keeps_partitions() -> None:
    assert control_period(Retention()) == 400
    assert control_period(Retention(archive_days=500)) == 500
    assert control_period(Retention(raw_days=90, archive_days=60, control_days=30)) == 90


def test_a_partitioned_runs_blobs_are_one_run_and_its_manifest_goes_last() -> None:
    plain = partition(400)
    stamp = f"{plain.day:%Y%m%d}020000"
    names = [f"p{k:02d}-{suffix}" for k in range(2) for suffix in ("0000.parquet", "manifest.json")]
    blobs = (*(StoredBlob(f"{plain.prefix}crm_customers_{stamp}_{n}", 100) for n in names), plain.blobs[1])
    partitioned = Partition(plain.zone, plain.container, plain.source, plain.entity, plain.day, plain.prefix, blobs)

    assert partitioned.run_stamps() == {stamp}  # looked up through the run's own manifest
    (delete,) = plan_entity([partitioned, partition(0)], periods_for(RETENTION, Zone.LANDING), TODAY, always).actions
    assert delete.kind is ActionKind.DELETE
    assert delete.blobs[-1].endswith(f"_{stamp}_manifest.json")
    assert len(delete.blobs) == 5
