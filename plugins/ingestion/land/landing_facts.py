"""What a run's manifest says about its read besides the files: watermarks, window, counts, and per kind of source
what only that kind knows. Written by extract_land, read by validate, publish and commit (and by people).

In the manifest's JSON these are the flat `extra` object they always were, so manifests written before still read
and downstream readers of `_manifest.json` see the same keys. A kind's part is there only for that kind:

- SQL (`sql`): `window_bounds` (the window, for validate's count at the source) and `source_count` (the window's
  rows in the read's snapshot, null where the dialect has none);
- REST (`rest`): `requests`;
- files (`files`): `files_loaded` (name, path, size, mtime, rows, quarantined), `files_waiting`, `files_refused`;
- records typed on the way in (REST and files, `records`): `records_seen`, `quarantined`, `quarantine_file`,
  `outside_window`.

Keys a reader does not know are left alone (a manifest from a newer version still reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingestion.extract.window import WindowBounds
from ingestion.json_types import JsonReader

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ingestion.config.models import Column
    from ingestion.json_types import JsonObject, JsonValue


@dataclass(frozen=True)
class LoadedFile:
    """A file a file-source run loaded: commit adds it to the processed-file list (and archives it if asked)."""

    name: str
    path: str
    size: int
    mtime: str  # ISO 8601, UTC
    rows: int
    quarantined: int = 0

    def to_json(self) -> JsonObject:
        return {
            "name": self.name,
            "path": self.path,
            "size": self.size,
            "mtime": self.mtime,
            "rows": self.rows,
            "quarantined": self.quarantined,
        }

    @classmethod
    def from_json(cls, fields: JsonReader) -> LoadedFile:
        return cls(
            name=fields.text("name"),
            path=fields.text("path"),
            size=fields.integer("size"),
            mtime=fields.text("mtime"),
            rows=fields.integer("rows", 0),
            quarantined=fields.integer("quarantined", 0),
        )


@dataclass(frozen=True)
class FileFacts:
    loaded: tuple[LoadedFile, ...] = ()
    waiting: tuple[str, ...] = ()  # still being written: they wait for the next run
    refused: tuple[str, ...] = ()  # names not read, with the reason

    def to_json(self) -> JsonObject:
        return {
            "files_loaded": [f.to_json() for f in self.loaded],
            "files_waiting": list(self.waiting),
            "files_refused": list(self.refused),
        }

    @classmethod
    def from_json(cls, fields: JsonReader) -> FileFacts:
        return cls(
            loaded=tuple(LoadedFile.from_json(f) for f in fields.children("files_loaded")),
            waiting=fields.texts("files_waiting", ()),
            refused=fields.texts("files_refused", ()),
        )


@dataclass(frozen=True)
class RecordCounts:
    """Records received, for reconciliation: seen = landed + quarantined + outside the window + left out."""

    records_seen: int
    quarantined: int = 0
    quarantine_file: str | None = None  # container/path of the quarantined records, None when none
    outside_window: int = 0

    def to_json(self) -> JsonObject:
        return {
            "records_seen": self.records_seen,
            "quarantined": self.quarantined,
            "quarantine_file": self.quarantine_file,
            "outside_window": self.outside_window,
        }

    @classmethod
    def from_json(cls, fields: JsonReader) -> RecordCounts:
        return cls(
            records_seen=fields.integer("records_seen"),
            quarantined=fields.integer("quarantined", 0),
            quarantine_file=fields.optional_text("quarantine_file"),
            outside_window=fields.integer("outside_window", 0),
        )


@dataclass(frozen=True)
class PartitionFacts:
    """How a partitioned run was split (load.partitions), as landed: a partition's manifest names its index; the
    run's manifest, which validate assembles, how many of its files each partition landed, so each publish task
    reads its own partition's (and every publish task of the run reads them alike whatever the config says later)."""

    count: int
    key: str  # the integer column the shares are taken of, or "" for a hash of the primary key
    partition: int | None = None  # in a partition's manifest
    cuts: tuple[int, ...] | None = (
        None  # a split in ranges of `key`: the run's cut points (pipeline/partition_agreement)
    )
    # In the run's manifest: each partition's file count, in partition order. None in run manifests assembled before
    # publish tasks read their own partition's files: such a run is not published (pipeline/publish_stage.py).
    files: tuple[int, ...] | None = None

    def to_json(self) -> JsonObject:
        out: JsonObject = {"count": self.count, "key": self.key, "partition": self.partition}
        if self.cuts is not None:
            out["cuts"] = list(self.cuts)
        if self.files is not None:
            out["files"] = list(self.files)
        return out

    @classmethod
    def from_json(cls, fields: JsonReader) -> PartitionFacts:
        return cls(
            count=fields.integer("count"),
            key=fields.optional_text("key") or "",
            partition=fields.optional_integer("partition"),
            cuts=fields.integers("cuts") if fields.raw("cuts") is not None else None,
            files=fields.integers("files") if fields.raw("files") is not None else None,
        )


@dataclass(frozen=True)
class SqlReadFacts:
    window_bounds: WindowBounds
    source_count: int | None = None  # the window's rows in the read's snapshot; None where there is none

    def to_json(self) -> JsonObject:
        return {"window_bounds": self.window_bounds.to_json(), "source_count": self.source_count}

    @classmethod
    def from_json(cls, fields: JsonReader) -> SqlReadFacts:
        return cls(WindowBounds.from_json(fields.child("window_bounds")), fields.optional_integer("source_count"))


@dataclass(frozen=True)
class AddedColumn:
    name: str
    type: str | None  # the logical type, None when the source's type has none
    native: str
    nullable: bool


@dataclass(frozen=True)
class RetypedColumn:
    name: str
    declared: str
    source: str | None
    native: str


@dataclass(frozen=True)
class SchemaDriftFacts:
    """How the source's columns differed from the declared ones, and what the entity's policy made of it."""

    policy: str
    detail: str
    added: tuple[AddedColumn, ...] = ()
    missing: tuple[str, ...] = ()
    retyped: tuple[RetypedColumn, ...] = ()
    nullable: tuple[str, ...] = ()

    def observed(self) -> JsonObject:
        """The drift itself, as check results record it."""
        return {
            "added": [{"name": c.name, "type": c.type, "native": c.native, "nullable": c.nullable} for c in self.added],
            "missing": list(self.missing),
            "retyped": [
                {"name": c.name, "declared": c.declared, "source": c.source, "native": c.native} for c in self.retyped
            ],
            "nullable": list(self.nullable),
        }

    def to_json(self) -> JsonObject:
        return {"policy": self.policy, "detail": self.detail, **self.observed()}

    @classmethod
    def from_json(cls, fields: JsonReader) -> SchemaDriftFacts:
        return cls(
            policy=fields.text("policy"),
            detail=fields.text("detail"),
            added=tuple(
                AddedColumn(c.text("name"), c.optional_text("type"), c.text("native"), c.flag("nullable"))
                for c in fields.children("added", ())
            ),
            missing=fields.texts("missing", ()),
            retyped=tuple(
                RetypedColumn(c.text("name"), c.text("declared"), c.optional_text("source"), c.text("native"))
                for c in fields.children("retyped", ())
            ),
            nullable=fields.texts("nullable", ()),
        )


@dataclass(frozen=True)
class LandingFacts:
    watermark_from: str | None = None  # the watermark the run started from, as stored
    watermark_to: str | None = None  # the one its commit moves to
    watermark_type: str | None = None
    # The id of the latest watermark change when the run read the watermark (ControlStore.latest_change): a run
    # committed after it may have committed rows this one read too (pipeline/publish_stage.py, superseded runs).
    watermark_change_seen: int | None = None
    window_start: str | None = None
    window_end: str | None = None
    columns: tuple[Column, ...] | None = None  # the columns landed, when not exactly the declared ones
    left_out_at_boundary: int | None = None  # rows tied with the watermark, landed by the run that set it
    schema_drift: SchemaDriftFacts | None = None
    sql: SqlReadFacts | None = None
    requests: int | None = None  # REST: requests made
    files: FileFacts | None = None
    records: RecordCounts | None = None
    pii_key_ids: dict[str, str] | None = None  # key generations used (ids only, never keys)
    sensitive_manifest: str | None = None  # container/path of the run's raw-PII manifest
    sensitive_files: tuple[str, ...] | None = None
    partitioning: PartitionFacts | None = None  # a partitioned run's (load.partitions)

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "watermark_from": self.watermark_from,
            "watermark_to": self.watermark_to,
            "watermark_type": self.watermark_type,
            "window_start": self.window_start,
            "window_end": self.window_end,
        }
        if self.watermark_change_seen is not None:
            out["watermark_change_seen"] = self.watermark_change_seen
        if self.columns is not None:
            out["columns"] = [c.model_dump(mode="json", exclude_defaults=True) for c in self.columns]
        if self.left_out_at_boundary is not None:
            out["left_out_at_boundary"] = self.left_out_at_boundary
        if self.schema_drift is not None:
            out["schema_drift"] = self.schema_drift.to_json()
        for part in (self.sql, self.files, self.records):
            if part is not None:
                out.update(part.to_json())
        if self.requests is not None:
            out["requests"] = self.requests
        if self.pii_key_ids is not None:
            out["pii_key_ids"] = dict(self.pii_key_ids)
        if self.sensitive_manifest is not None:
            out["sensitive_manifest"] = self.sensitive_manifest
        if self.sensitive_files is not None:
            out["sensitive_files"] = list(self.sensitive_files)
        if self.partitioning is not None:
            out["partitioning"] = self.partitioning.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue], what: str = "manifest extra") -> LandingFacts:
        from ingestion.config.models import Column

        fields = JsonReader(data, what)
        columns = fields.raw("columns")
        pii = fields.child("pii_key_ids") if fields.raw("pii_key_ids") is not None else None
        return cls(
            watermark_from=fields.optional_text("watermark_from"),
            watermark_to=fields.optional_text("watermark_to"),
            watermark_type=fields.optional_text("watermark_type"),
            watermark_change_seen=fields.optional_integer("watermark_change_seen"),
            window_start=fields.optional_text("window_start"),
            window_end=fields.optional_text("window_end"),
            columns=None
            if columns is None
            else tuple(Column.model_validate(c.data) for c in fields.children("columns")),
            left_out_at_boundary=fields.optional_integer("left_out_at_boundary"),
            schema_drift=SchemaDriftFacts.from_json(fields.child("schema_drift")) if "schema_drift" in fields else None,
            sql=SqlReadFacts.from_json(fields) if "window_bounds" in fields else None,
            requests=fields.optional_integer("requests"),
            files=FileFacts.from_json(fields) if "files_loaded" in fields else None,
            records=RecordCounts.from_json(fields) if "records_seen" in fields else None,
            pii_key_ids=None if pii is None else {k: pii.text(k) for k in pii.data},
            sensitive_manifest=fields.optional_text("sensitive_manifest"),
            sensitive_files=fields.texts("sensitive_files") if fields.raw("sensitive_files") is not None else None,
            partitioning=PartitionFacts.from_json(fields.child("partitioning")) if "partitioning" in fields else None,
        )

    @property
    def files_loaded(self) -> tuple[LoadedFile, ...]:
        return self.files.loaded if self.files is not None else ()
