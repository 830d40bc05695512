"""Reconciliation and quarantine results for REST and file runs, from the manifest's counts. Pure."""

from __future__ import annotations

from ingestion.land.landing_facts import LandingFacts, RecordCounts
from ingestion.land.parquet_lander import LandingManifest
from ingestion.pipeline.validate_stage import quarantine_result, records_reconciliation


def _manifest(rows: int, records: RecordCounts | None = None) -> LandingManifest:
    return LandingManifest(
        "s", "e", "run", "landing", "parquet", "w", rows, 1, "fp", facts=LandingFacts(records=records)
    )


def test_every_record_seen_is_accounted_for() -> None:
    result = records_reconciliation(
        _manifest(7, RecordCounts(records_seen=10, quarantined=2, outside_window=1)), "error"
    )
    assert result.passed
    assert result.observed == {"source": 10, "landed": 7, "quarantined": 2, "outside_window": 1}


def test_a_lost_record_fails_reconciliation_with_the_counts() -> None:
    result = records_reconciliation(
        _manifest(7, RecordCounts(records_seen=10, quarantined=2, outside_window=0)), "error"
    )
    assert not result.passed
    assert result.severity == "error"
    assert "10 record(s) were read from the source but 9 are accounted for" in result.detail


def test_quarantined_records_are_a_warning_naming_the_file() -> None:
    file = "sensitive/s/e/_quarantine/date=2026-11-22/s_e_20261122000000_quarantine.jsonl"
    result = quarantine_result(_manifest(7, RecordCounts(records_seen=9, quarantined=2, quarantine_file=file)))
    assert result is not None
    assert not result.passed
    assert result.severity == "warn"
    assert file in result.detail
    clean = quarantine_result(_manifest(7, RecordCounts(records_seen=7, quarantined=0, quarantine_file=None)))
    assert clean is not None
    assert clean.passed
    assert quarantine_result(_manifest(7)) is None  # SQL runs have no quarantine
