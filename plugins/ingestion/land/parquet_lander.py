"""Arrow record batches in, Parquet parts (zstd) in the lake out, with lineage columns and a manifest written last.

Memory stays bounded: each batch goes straight into a ParquetWriter over a BlockBlobWriter, which uploads a block
whenever its buffer fills; a part is rolled over after `max_rows_per_part` rows. A part becomes visible only when
its block list is committed, the manifest only after every part, and blobs of an earlier attempt of the same run
that the new manifest does not list are deleted last, so readers that follow the manifest never see a mix.

Before its first part, a lander claims the run's prefix: an earlier attempt's manifest of the same run is deleted
first (its parts are about to be overwritten under the same names, and a reader must not follow the old manifest
to new bytes), and a manifest of another run at the same names is refused, never overwritten. Every manifest
carries a fresh `landing_id`, so a later stage can tell one landing of a run from another.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.faults import fault_point
from ingestion.land.blob_writer import DEFAULT_BLOCK_BYTES, BlockBlobWriter
from ingestion.land.errors import LandingCollisionError
from ingestion.land.landing_facts import LandingFacts
from ingestion.land.paths import LandingPaths

if TYPE_CHECKING:
    from ingestion.land.lake_api import LakeContainer

log = logging.getLogger(__name__)


LINEAGE_FIELDS = [
    pa.field("_ingest_run_id", pa.string(), nullable=False),
    pa.field("_ingest_source", pa.string(), nullable=False),
    pa.field("_ingest_entity", pa.string(), nullable=False),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
]


def schema_fingerprint(schema: pa.Schema) -> str:
    """Stable id of a schema (names, types, nullability), for Kafka headers and drift checks."""
    text = "\n".join(f"{f.name}:{f.type}:{'null' if f.nullable else 'not null'}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def with_lineage(schema: pa.Schema) -> pa.Schema:
    return pa.schema([*schema, *LINEAGE_FIELDS])


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary encoding: text (repeated values such as statuses, and the constant lineage
    columns). Arrow's default encodes every column, and on keys, amounts and timestamps that made the files about
    50% bigger and slower to write: a new dictionary per row group, abandoned once it outgrows its page
    (bench/README.md)."""
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


@dataclass(frozen=True)
class LandedFile:
    path: str
    rows: int
    bytes: int


@dataclass(frozen=True)
class LandingManifest:
    source: str
    entity: str
    run_id: str
    container: str
    format: str
    window: str
    rows: int
    bytes: int
    schema_fingerprint: str
    files: list[LandedFile] = field(default_factory=list)
    landed_at: str = ""
    facts: LandingFacts = field(default_factory=LandingFacts)  # `extra` in the JSON
    landing_id: str = ""  # unique per landing of a run; "" in manifests written before it existed

    def to_json(self) -> str:
        data = {
            "source": self.source,
            "entity": self.entity,
            "run_id": self.run_id,
            "container": self.container,
            "format": self.format,
            "window": self.window,
            "rows": self.rows,
            "bytes": self.bytes,
            "schema_fingerprint": self.schema_fingerprint,
            "files": [asdict(f) for f in self.files],
            "landed_at": self.landed_at,
            "extra": self.facts.to_json(),
            "landing_id": self.landing_id,
        }
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LandingManifest:
        data = json.loads(text)
        return cls(
            source=data["source"],
            entity=data["entity"],
            run_id=data["run_id"],
            container=data["container"],
            format=data["format"],
            window=data["window"],
            rows=data["rows"],
            bytes=data["bytes"],
            schema_fingerprint=data["schema_fingerprint"],
            files=[LandedFile(**f) for f in data["files"]],
            landed_at=data.get("landed_at", ""),
            facts=LandingFacts.from_json(data.get("extra") or {}, f"{data['container']} manifest of {data['run_id']}"),
            landing_id=data.get("landing_id", ""),
        )


class ParquetLander:
    def __init__(
        self,
        lake: LakeContainer,
        paths: LandingPaths,
        schema: pa.Schema,
        *,
        run_id: str,
        ingested_at: datetime | None = None,
        max_rows_per_part: int = 1_000_000,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        compression: str = "zstd",
    ) -> None:
        self.lake = lake
        self.paths = paths
        self.run_id = run_id
        self.schema = with_lineage(schema)
        self.ingested_at = ingested_at or datetime.now(UTC)
        self.max_rows_per_part = max_rows_per_part
        self.block_bytes = block_bytes
        self.compression = compression
        self.files: list[LandedFile] = []
        self.rows_written = 0
        self._sink: BlockBlobWriter | None = None
        self._writer: pq.ParquetWriter | None = None
        self._part_rows = 0
        self._claimed = False
        self._where = f"{paths.source}.{paths.entity}"

    def _claim(self) -> None:
        """Make the run's names ours before writing any: see the module docstring. A partition's lander claims its
        own names, and takes down the run's assembled manifest too: it lists this partition's parts, which are about
        to change."""
        if self._claimed:
            return
        self._take_down(self.paths.manifest)
        if self.paths.partition is not None:
            self._take_down(self.paths.run_manifest)
        self._claimed = True

    def _take_down(self, manifest_path: str) -> None:
        """Delete this run's manifest at `manifest_path` (an earlier attempt's); refuse another run's."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            earlier = LandingManifest.from_json(self.lake.get(manifest_path).decode())
        except ResourceNotFoundError:
            return
        if earlier.run_id != self.run_id:
            raise LandingCollisionError(
                f"{self._where}: {self.paths.container}/{manifest_path} belongs to run {earlier.run_id}, not "
                f"{self.run_id}: both runs name their files after the same instant; nothing was written. Trigger "
                "this run again (a manual run is named after its own start time)"
            )
        log.info("removing the manifest of an earlier attempt of this run before landing again: %s", manifest_path)
        with contextlib.suppress(ResourceNotFoundError):  # another partition of the run took it down first
            self.lake.delete([manifest_path])

    def _lineage_columns(self, rows: int) -> list[pa.Array]:
        values = [self.run_id, self.paths.source, self.paths.entity, self.ingested_at]
        # fill_null on an all-null array builds a constant column in C, without a Python list per batch.
        return [
            pa.nulls(rows, f.type).fill_null(pa.scalar(v, f.type)) for f, v in zip(LINEAGE_FIELDS, values, strict=True)
        ]

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        columns = [*batch.columns, *self._lineage_columns(batch.num_rows)]
        full = pa.RecordBatch.from_arrays(columns, schema=self.schema)
        offset = 0
        while offset < full.num_rows:
            if self._writer is None:
                self._open_part()
            room = self.max_rows_per_part - self._part_rows
            piece = full.slice(offset, room)
            assert self._writer is not None
            self._writer.write_batch(piece)
            self._part_rows += piece.num_rows
            offset += piece.num_rows
            if self._part_rows >= self.max_rows_per_part:
                self._close_part()
        self.rows_written += full.num_rows

    def _open_part(self) -> None:
        self._claim()
        name = self.paths.part(len(self.files))
        self._sink = BlockBlobWriter(self.lake.blob(name), block_bytes=self.block_bytes)
        self._writer = pq.ParquetWriter(
            self._sink, self.schema, compression=self.compression, use_dictionary=dictionary_columns(self.schema)
        )
        self._part_rows = 0

    def _close_part(self) -> None:
        assert self._writer is not None
        assert self._sink is not None
        self._writer.close()  # writes the footer into the sink
        self._sink.close()  # commits the block list: the part appears, whole
        name = self.paths.part(len(self.files))
        self.files.append(LandedFile(name, self._part_rows, self._sink.bytes_written))
        log.info("landed %s: %d rows, %d bytes", name, self._part_rows, self._sink.bytes_written)
        self._writer, self._sink, self._part_rows = None, None, 0
        fault_point("land.part_committed", self._where, progress=len(self.files), partition=self.paths.partition)

    def abort(self) -> None:
        if self._sink is not None:
            self._sink.abort()
        self._writer, self._sink = None, None

    def finish(self, *, window: str, facts: LandingFacts | None = None) -> LandingManifest:
        self._claim()  # a run that landed no rows still must not write over another run's manifest
        if self._writer is not None:
            self._close_part()
        manifest = LandingManifest(
            source=self.paths.source,
            entity=self.paths.entity,
            run_id=self.run_id,
            container=self.paths.container,
            format="parquet",
            window=window,
            rows=sum(f.rows for f in self.files),
            bytes=sum(f.bytes for f in self.files),
            schema_fingerprint=schema_fingerprint(self.schema),
            files=list(self.files),
            landed_at=self.ingested_at.isoformat(),
            facts=facts or LandingFacts(),
            landing_id=uuid.uuid4().hex,
        )
        self.lake.put(self.paths.manifest, manifest.to_json().encode())
        keep = {f.path for f in self.files} | {self.paths.manifest}
        stale = [name for name in self.lake.names(self.paths.names_prefix) if name not in keep]
        if stale:
            log.info("removing %d part(s) of an earlier attempt of this run: %s", len(stale), stale)
            self.lake.delete(stale)
        return manifest


def read_manifest(lake: LakeContainer, paths: LandingPaths) -> LandingManifest:
    return LandingManifest.from_json(lake.get(paths.manifest).decode())
