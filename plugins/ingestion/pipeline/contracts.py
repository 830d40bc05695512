"""What each stage hands the next, typed. The operators turn them into XCom (and commit's into the Asset event's
extra) with `to_xcom`, and back with `from_xcom`; nothing else reads or writes stage results as dicts.

    extract_land -> LandedRun      where the files are, counts, window, watermarks, what the read found
    validate     -> ValidatedRun   the check results
    publish      -> PublishedRun   topic, messages, offsets
    commit       -> CommittedRun   the outcome and counts downstream DAGs see on the Asset event

The XCom form is a flat JSON object with the keys these results always had (the UI shows it, tests and people read
it), e.g. a LandedRun's manifest facts (`records_seen`, `files_loaded`, `window_bounds`...) sit beside `rows`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ingestion.errors import StageResultError
from ingestion.json_types import JsonReader
from ingestion.land.landing_facts import LandingFacts, LoadedFile
from ingestion.validate.check_result import CheckResult

if TYPE_CHECKING:
    from ingestion.json_types import JsonObject, JsonValue
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.publish.kafka_publisher import PublishResult


@dataclass(frozen=True)
class LandedRun:
    """extract_land's result: a run's landing (never the data)."""

    manifest: str  # the manifest's path in `container`
    container: str
    files: tuple[str, ...]
    rows: int
    bytes: int
    window: str  # the window, described
    schema_fingerprint: str
    landing_id: str
    facts: LandingFacts
    window_start: str | None
    window_end: str | None
    seconds: float
    already_committed: bool = False  # a re-run of a committed run: its landing kept, nothing read
    frozen: bool = False  # a retry of a run whose publish began: its landing re-used, nothing read

    @classmethod
    def of(
        cls,
        manifest: LandingManifest,
        manifest_path: str,
        *,
        seconds: float,
        window_start: str | None = None,
        window_end: str | None = None,
        already_committed: bool = False,
        frozen: bool = False,
    ) -> LandedRun:
        """The result for a manifest; the window's ends default to the ones the manifest recorded."""
        facts = manifest.facts
        return cls(
            manifest=manifest_path,
            container=manifest.container,
            files=tuple(f.path for f in manifest.files),
            rows=manifest.rows,
            bytes=manifest.bytes,
            window=manifest.window,
            schema_fingerprint=manifest.schema_fingerprint,
            landing_id=manifest.landing_id,
            facts=facts,
            window_start=window_start if window_start is not None else facts.window_start,
            window_end=window_end if window_end is not None else facts.window_end,
            seconds=seconds,
            already_committed=already_committed,
            frozen=frozen,
        )

    @property
    def watermark_from(self) -> str | None:
        return self.facts.watermark_from

    @property
    def watermark_to(self) -> str | None:
        return self.facts.watermark_to

    @property
    def watermark_type(self) -> str | None:
        return self.facts.watermark_type

    @property
    def files_loaded(self) -> tuple[LoadedFile, ...]:
        return self.facts.files_loaded

    def to_xcom(self) -> JsonObject:
        out: JsonObject = {
            "manifest": self.manifest,
            "container": self.container,
            "files": list(self.files),
            "rows": self.rows,
            "bytes": self.bytes,
            "window": self.window,
            "schema_fingerprint": self.schema_fingerprint,
            "landing_id": self.landing_id,
            **self.facts.to_json(),
            "window_start": self.window_start,
            "window_end": self.window_end,
            "seconds": self.seconds,
        }
        if self.already_committed:
            out["already_committed"] = True
        if self.frozen:
            out["frozen"] = True
        return out

    @classmethod
    def from_xcom(cls, data: Mapping[str, JsonValue]) -> LandedRun:
        fields = JsonReader(data, "extract_land result")
        return cls(
            manifest=fields.text("manifest"),
            container=fields.text("container"),
            files=fields.texts("files"),
            rows=fields.integer("rows"),
            bytes=fields.integer("bytes"),
            window=fields.text("window"),
            schema_fingerprint=fields.text("schema_fingerprint"),
            landing_id=fields.text("landing_id", ""),
            facts=LandingFacts.from_json(data, "extract_land result"),
            window_start=fields.optional_text("window_start"),
            window_end=fields.optional_text("window_end"),
            seconds=fields.number("seconds", 0.0),
            already_committed=fields.flag("already_committed", False),
            frozen=fields.flag("frozen", False),
        )


def check_to_json(result: CheckResult) -> JsonObject:
    return {
        "name": result.name,
        "kind": result.kind,
        "passed": result.passed,
        "severity": result.severity,
        "detail": result.detail,
        "observed": dict(result.observed),
    }


def check_from_json(data: Mapping[str, JsonValue], what: str = "check result") -> CheckResult:
    """A check result as CheckResult.as_dict() wrote it (XCom, the run record's check_results)."""
    fields = JsonReader(data, what)
    observed = fields.raw("observed") or {}
    if not isinstance(observed, Mapping):
        raise StageResultError(f"{what}: field 'observed' should be an object")
    return CheckResult(
        name=fields.text("name"),
        kind=fields.text("kind"),
        passed=fields.flag("passed"),
        severity=fields.text("severity"),
        detail=fields.text("detail"),
        observed=dict(observed),
    )


@dataclass(frozen=True)
class ValidatedRun:
    """validate's result: every check's outcome (an `error` failure never gets here: it fails the task)."""

    rows: int
    checks: tuple[CheckResult, ...]
    warnings: int  # warn-severity checks that failed
    seconds: float

    @property
    def failed_warnings(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed and c.severity == "warn")

    def to_xcom(self) -> JsonObject:
        return {
            "rows": self.rows,
            "checks": [check_to_json(c) for c in self.checks],
            "warnings": self.warnings,
            "seconds": self.seconds,
        }

    @classmethod
    def from_xcom(cls, data: Mapping[str, JsonValue]) -> ValidatedRun:
        fields = JsonReader(data, "validate result")
        checks = tuple(check_from_json(c.data, c.what) for c in fields.children("checks", ()))
        return cls(
            rows=fields.integer("rows", 0),
            checks=checks,
            warnings=fields.integer("warnings", 0),
            seconds=fields.number("seconds", 0.0),
        )


@dataclass(frozen=True)
class PublishedRun:
    """publish's result: what the run's transaction committed to the topic (or an earlier attempt did)."""

    topic: str
    rows: int  # messages committed for the run
    already_published: bool
    offsets: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # partition -> (end before, end after)
    seconds: float = 0.0

    @classmethod
    def of(cls, result: PublishResult) -> PublishedRun:
        return cls(result.topic, result.rows, result.already_published, dict(result.offsets), result.seconds)

    @classmethod
    def of_tasks(cls, tasks: Sequence[PublishedRun]) -> PublishedRun:
        """A run published by one task per partition: their counts added up (commit checks the sum against the
        landing), published before only if every task's was. The tasks wrote to the same topic partitions, so the
        run's messages lie, in each partition, between the earliest end offset before and the latest after."""
        offsets: dict[int, tuple[int, int]] = {}
        for task in tasks:
            for partition, (before, after) in task.offsets.items():
                low, high = offsets.get(partition, (before, after))
                offsets[partition] = (min(low, before), max(high, after))
        return cls(
            topic=tasks[0].topic,
            rows=sum(t.rows for t in tasks),
            already_published=all(t.already_published for t in tasks),
            offsets=offsets,
            seconds=max(t.seconds for t in tasks),
        )

    def to_xcom(self) -> JsonObject:
        return {
            "topic": self.topic,
            "rows_published": self.rows,
            "already_published": self.already_published,
            "offsets": {str(p): list(v) for p, v in self.offsets.items()},
            "seconds": self.seconds,
        }

    @classmethod
    def from_xcom(cls, data: Mapping[str, JsonValue]) -> PublishedRun:
        fields = JsonReader(data, "publish result")
        offsets = fields.raw("offsets") or {}
        if not isinstance(offsets, Mapping):
            raise StageResultError("publish result: field 'offsets' should be an object")
        by_partition: dict[int, tuple[int, int]] = {}
        for partition, ends in offsets.items():
            before, after = ends if isinstance(ends, list | tuple) and len(ends) == 2 else (None, None)
            if not isinstance(before, int) or not isinstance(after, int):
                raise StageResultError(f"publish result: offsets of partition {partition} should be [before, after]")
            by_partition[int(partition)] = (before, after)
        return cls(
            topic=fields.text("topic"),
            rows=fields.integer("rows_published"),
            already_published=fields.flag("already_published", False),
            offsets=by_partition,
            seconds=fields.number("seconds", 0.0),
        )


@dataclass(frozen=True)
class CommittedRun:
    """commit's result, and the extra of the entity's Asset event: what downstream DAGs see of the run."""

    outcome: str  # committed, or already_committed (a re-run of a committed run changes nothing)
    run_id: str
    rows_landed: int
    rows_published: int
    bytes_landed: int
    window: str | None
    watermark: str | None  # the watermark the commit moved to; None when it did not move it
    moved_watermark: bool
    archived: tuple[str, ...] = ()  # files moved to the archive folder on the server after commit

    def to_xcom(self) -> JsonObject:
        out: JsonObject = {
            "outcome": self.outcome,
            "rows_landed": self.rows_landed,
            "rows_published": self.rows_published,
            "bytes_landed": self.bytes_landed,
            "window": self.window,
            "watermark": self.watermark,
            "moved_watermark": self.moved_watermark,
            "run_id": self.run_id,
        }
        if self.archived:
            out["archived"] = list(self.archived)
        return out

    @classmethod
    def from_xcom(cls, data: Mapping[str, JsonValue]) -> CommittedRun:
        fields = JsonReader(data, "commit result")
        return cls(
            outcome=fields.text("outcome"),
            run_id=fields.text("run_id"),
            rows_landed=fields.integer("rows_landed"),
            rows_published=fields.integer("rows_published"),
            bytes_landed=fields.integer("bytes_landed"),
            window=fields.optional_text("window"),
            watermark=fields.optional_text("watermark"),
            moved_watermark=fields.flag("moved_watermark"),
            archived=fields.texts("archived", ()),
        )
