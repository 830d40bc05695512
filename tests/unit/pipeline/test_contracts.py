"""Stage results and manifest facts: typed in, plain JSON out (XCom, the Asset event, the manifest) and back."""

from __future__ import annotations

import json

import pytest

from ingestion.config.models import Column
from ingestion.errors import StageResultError
from ingestion.extract.window import WindowBounds
from ingestion.land.landing_facts import (
    AddedColumn,
    FileFacts,
    LandingFacts,
    LoadedFile,
    PartitionFacts,
    RecordCounts,
    RetypedColumn,
    SchemaDriftFacts,
    SqlReadFacts,
)
from ingestion.land.parquet_lander import LandedFile, LandingManifest
from ingestion.pipeline.contracts import CommittedRun, LandedRun, PublishedRun, ValidatedRun
from ingestion.validate.check_result import CheckResult


def _json(data: object) -> object:
    return json.loads(json.dumps(data))


SQL_FACTS = LandingFacts(
    watermark_from="2026-11-01T00:00:00+00:00",
    watermark_to="2026-11-02T00:00:00+00:00",
    watermark_type="timestamp",
    window_start="2026-11-01T00:00:00+00:00",
    window_end="2026-11-02T00:00:00+00:00",
    columns=(Column(name="order_id", type="bigint", nullable=False), Column(name="region", type="string")),
    left_out_at_boundary=2,
    schema_drift=SchemaDriftFacts(
        policy="evolve",
        detail="new: region (text)",
        added=(AddedColumn("region", "string", "text", True),),
        retyped=(RetypedColumn("amount", "decimal(12,2)", "decimal(14,2)", "numeric(14,2)"),),
    ),
    sql=SqlReadFacts(
        WindowBounds(
            "incremental", "2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00", True, True, False, "timestamp"
        ),
        source_count=None,
    ),
    pii_key_ids={"hash": "k1"},
    sensitive_manifest="sensitive/s/e/_manifest.json",
    sensitive_files=("sensitive/s/e/part-0.parquet",),
    partitioning=PartitionFacts(count=3, key="order_id", cuts=(100, 200), files=(2, 0, 1)),
)
FILE_FACTS = LandingFacts(
    watermark_type="timestamp",
    files=FileFacts(
        loaded=(LoadedFile("a.csv", "/in/a.csv", 10, "2026-11-01T00:00:00+00:00", 3, 1),),
        waiting=("b.csv",),
        refused=("'c\\n.csv' contains a control or invisible formatting character",),
    ),
    records=RecordCounts(records_seen=4, quarantined=1, quarantine_file="sensitive/q.jsonl", outside_window=0),
)


@pytest.mark.parametrize("facts", [SQL_FACTS, FILE_FACTS, LandingFacts()], ids=["sql", "files", "empty"])
def test_landing_facts_round_trip_as_the_manifest_extra(facts: LandingFacts) -> None:
    assert LandingFacts.from_json(_json(facts.to_json())) == facts  # type: ignore[arg-type]


def test_each_kind_writes_only_its_keys_and_sql_keeps_a_null_snapshot_count() -> None:
    sql, files = SQL_FACTS.to_json(), FILE_FACTS.to_json()
    assert sql["source_count"] is None  # the key is there: null means the dialect had no snapshot
    assert {"files_loaded", "records_seen", "requests"}.isdisjoint(sql)
    assert {"window_bounds", "source_count", "left_out_at_boundary", "requests"}.isdisjoint(files)
    assert files["files_loaded"] == [
        {
            "name": "a.csv",
            "path": "/in/a.csv",
            "size": 10,
            "mtime": "2026-11-01T00:00:00+00:00",
            "rows": 3,
            "quarantined": 1,
        }
    ]
    assert files["quarantine_file"] == "sensitive/q.jsonl"


def test_a_manifest_written_before_reads_and_unknown_keys_are_left_alone() -> None:
    # No landing_id, no cursor_zone in the bounds, no source_count, and a key this version does not know.
    old = {
        "source": "s",
        "entity": "e",
        "run_id": "r",
        "container": "landing",
        "format": "parquet",
        "window": "[a, b]",
        "rows": 1,
        "bytes": 10,
        "schema_fingerprint": "fp",
        "files": [{"path": "s/e/p.parquet", "rows": 1, "bytes": 10}],
        "landed_at": "2026-11-01T00:00:00+00:00",
        "extra": {
            "watermark_from": None,
            "watermark_to": "5",
            "watermark_type": "integer",
            "window_bounds": {
                "mode": "incremental",
                "low": None,
                "high": "5",
                "low_inclusive": False,
                "high_inclusive": True,
                "empty": False,
                "value_type": "integer",
            },
            "something_new": {"x": 1},
        },
    }
    manifest = LandingManifest.from_json(json.dumps(old))
    assert manifest.landing_id == ""
    assert manifest.files == [LandedFile("s/e/p.parquet", 1, 10)]
    assert manifest.facts.sql is not None
    assert manifest.facts.sql.source_count is None
    assert manifest.facts.sql.window_bounds.window().high == 5
    assert manifest.facts.sql.window_bounds.cursor_zone is None
    assert LandingManifest.from_json(manifest.to_json()) == manifest


def test_a_result_of_the_wrong_shape_names_its_field() -> None:
    with pytest.raises(StageResultError, match="extract_land result: field 'rows' should be an integer, not str"):
        LandedRun.from_xcom({"manifest": "m", "container": "c", "files": [], "rows": "7"})
    with pytest.raises(StageResultError, match="publish result: field 'rows_published' is missing"):
        PublishedRun.from_xcom({"topic": "t"})


def test_validated_published_and_committed_runs_round_trip() -> None:
    check = CheckResult("unique(id)", "unique", False, "warn", "2 duplicates", {"duplicates": 2, "examples": [1, 2]})
    validated = ValidatedRun(rows=10, checks=(check,), warnings=1, seconds=0.5)
    published = PublishedRun("ingest.s.e", 10, False, {0: (5, 10), 1: (0, 5)}, 1.5)
    committed = CommittedRun("committed", "r1", 10, 10, 100, "[a, b]", "b", True, archived=("a.csv",))
    assert ValidatedRun.from_xcom(_json(validated.to_xcom())) == validated  # type: ignore[arg-type]
    assert PublishedRun.from_xcom(_json(published.to_xcom())) == published  # type: ignore[arg-type]
    assert CommittedRun.from_xcom(_json(committed.to_xcom())) == committed  # type: ignore[arg-type]
    assert validated.failed_warnings == (check,)
    # The shapes downstream readers know: publish's offsets by partition text, the Asset event's keys.
    assert published.to_xcom()["offsets"] == {"0": [5, 10], "1": [0, 5]}
    assert set(CommittedRun("committed", "r", 0, 0, 0, None, None, False).to_xcom()) == {
        "outcome",
        "rows_landed",
        "rows_published",
        "bytes_landed",
        "window",
        "watermark",
        "moved_watermark",
        "run_id",
    }


def test_a_partitioned_runs_publish_tasks_add_up_to_one_result_over_the_partitions_they_shared() -> None:
    """Both tasks wrote to partitions 0 and 1, one after the other in 0 and side by side in 1: the run's messages
    lie between the earliest end before and the latest end after (the last task's offsets used to replace the
    others')."""
    first = PublishedRun("t", 30, already_published=True, offsets={0: (10, 25), 1: (0, 15)}, seconds=4.0)
    second = PublishedRun("t", 20, already_published=False, offsets={0: (25, 35), 1: (5, 20)}, seconds=6.5)

    run = PublishedRun.of_tasks([first, second])

    assert run == PublishedRun("t", 50, already_published=False, offsets={0: (10, 35), 1: (0, 20)}, seconds=6.5)
    assert PublishedRun.of_tasks([first, first]).already_published
