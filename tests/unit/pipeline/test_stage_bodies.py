"""validate and commit on what the driver landed, on an SQLite control store and a lake in memory; a source that
learns its high end from the rows; the kind's action after commit."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta

import pytest

from ingestion.land.landing_facts import LandingFacts
from ingestion.pipeline.commit_stage import commit_run
from ingestion.pipeline.contracts import LandedRun, PublishedRun, ValidatedRun
from ingestion.pipeline.errors import CommitConflictError, StageResultMissingError
from ingestion.pipeline.extract_driver import extract_land
from ingestion.pipeline.sources.base import SourceBatch, SourceRead
from ingestion.pipeline.storage import StageStorage
from ingestion.pipeline.validate_stage import validate_run
from ingestion.state.store import ControlStore
from tests.unit.pipeline.conftest import T0, TableSource, orders_plan, rows, run_of

PLAN = orders_plan()


class ArchivingSource(TableSource):
    """A table source with an action after commit, that records each call."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.after: list[str] = []

    def after_commit(self, landed: LandedRun) -> tuple[str, ...]:
        self.after.append(landed.landing_id)
        return ("moved.csv",)


def _published(landed: LandedRun) -> PublishedRun:
    return PublishedRun(PLAN.topic, landed.rows, already_published=False, seconds=1.0)


def test_validate_checks_the_landed_files_and_records_its_results(storage: StageStorage, store: ControlStore) -> None:
    extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    validated = validate_run(PLAN, run_of(1), storage=storage)

    structure = next(c for c in validated.checks if c.name == "landed_structure")
    assert (validated.rows, structure.passed, validated.warnings) == (3, True, 0)
    assert "1 file(s), 3 rows, schema as expected" in structure.detail
    recorded = store.check_results(PLAN.source, PLAN.entity.name, run_of(1).run_id)
    assert [r["check_name"] for r in recorded] == [c.name for c in validated.checks]


def test_commit_records_the_run_moves_the_watermark_once_and_runs_the_kinds_action(
    storage: StageStorage, store: ControlStore
) -> None:
    landed = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    validated = validate_run(PLAN, run_of(1), storage=storage)
    source = ArchivingSource(PLAN, run_of(1), [])
    committed = commit_run(
        PLAN,
        run_of(1),
        landed=landed,
        validated=validated,
        published=_published(landed),
        storage=storage,
        source=source,
    )

    assert (committed.outcome, committed.rows_landed, committed.moved_watermark) == ("committed", 3, True)
    assert (committed.watermark, committed.archived, source.after) == (
        landed.watermark_to,
        ("moved.csv",),
        [landed.landing_id],
    )
    mark = store.get_watermark(PLAN.source, PLAN.entity.name)
    assert mark is not None
    assert (mark.value, mark.run_id) == (landed.watermark_to, run_of(1).run_id)
    record = store.committed_run(PLAN.source, PLAN.entity.name, run_of(1).run_id)
    assert record is not None
    assert (record.rows_published, record.moved_watermark, record.files) == (3, True, list(landed.files))
    assert record.committed_at.tzinfo is not None
    assert [c["name"] for c in record.check_results][-1] == "reconciliation_kafka"
    assert store.runs(PLAN.source) == [record]

    # A re-run: extract_land keeps the landing, validate returns the recorded checks, commit changes nothing.
    kept = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3, 4)]), storage=storage)
    again = validate_run(PLAN, run_of(1), storage=storage)
    assert [c.name for c in again.checks] == [*(c.name for c in validated.checks), "reconciliation_kafka"]
    assert again.checks[: len(validated.checks)] == validated.checks
    repeat = commit_run(
        PLAN, run_of(1), landed=kept, validated=again, published=_published(kept), storage=storage, source=source
    )
    assert (repeat.outcome, repeat.archived, source.after) == ("already_committed", (), [landed.landing_id])
    assert len(store.history(PLAN.source, PLAN.entity.name)) == 1


def test_commit_refuses_a_watermark_moved_since_the_read(storage: StageStorage, store: ControlStore) -> None:
    landed = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1, 2, 3)]), storage=storage)
    store.set_watermark(
        PLAN.source, PLAN.entity.name, (T0 + timedelta(days=9)).isoformat(), reason="test", changed_by="t"
    )
    validated = ValidatedRun(rows=3, checks=(), warnings=0, seconds=0.0)
    with pytest.raises(CommitConflictError, match="put the watermark back where the run started"):
        commit_run(PLAN, run_of(1), landed=landed, validated=validated, published=_published(landed), storage=storage)
    assert store.runs(PLAN.source) == []


def test_commit_names_a_stage_that_left_no_result(storage: StageStorage) -> None:
    with pytest.raises(StageResultMissingError, match="no result from extract_land"):
        commit_run(PLAN, run_of(1), landed=None, validated=None, published=None, storage=storage)
    landed = extract_land(PLAN, run_of(1), source=TableSource(PLAN, run_of(1), [rows(1)]), storage=storage)
    with pytest.raises(StageResultMissingError, match="no result from validate"):
        commit_run(PLAN, run_of(1), landed=landed, validated=None, published=_published(landed), storage=storage)


class PagedSource(TableSource):
    """A REST-like source: asked for everything from the watermark, it learns the window's high end from the rows."""

    counts_records = True

    def prepare(self, store: ControlStore) -> SourceRead:
        read = super().prepare(store)
        self._read = SourceRead(read.cursor, read.cursor.open_window(), read.columns)
        return self._read

    def batches(self) -> Generator[SourceBatch, None, None]:
        for batch in self.table:
            yield SourceBatch(batch, seen=batch.num_rows)

    def facts(self, new_watermark: object, *, left_out: int) -> LandingFacts:
        return super().facts(new_watermark, left_out=left_out)


def test_an_open_window_moves_the_watermark_to_the_highest_value_landed(storage: StageStorage) -> None:
    landed = extract_land(PLAN, run_of(1), source=PagedSource(PLAN, run_of(1), [rows(7, 2), rows(5)]), storage=storage)
    assert landed.watermark_to == (T0 + timedelta(minutes=7)).isoformat()
    assert landed.facts.records is not None
    assert (landed.facts.records.records_seen, landed.facts.records.quarantined) == (3, 0)
    assert landed.facts.records.quarantine_file is None
