"""validate: structure checks of what a run landed, read through its manifest.

Each landed file must exist with the size the manifest records, carry the row count it records (from the Parquet
footer, fetched by byte range, not the whole file) and have exactly the schema the config declares plus the
lineage columns (masked columns as strings, dropped ones absent). Content checks from the config (not_null,
unique, ranges, ...) build on this (issue 6).
A failed check fails the task, so nothing is published or committed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ingestion.errors import IngestionError

if TYPE_CHECKING:
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)


class ValidationFailedError(IngestionError):
    """At least one error-severity check failed."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    severity: str
    detail: str


def validate_run(plan: EntityPlan, run: RunInfo) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from ingestion.land.blob_reader import BlobRangeReader
    from ingestion.land.parquet_lander import schema_fingerprint, with_lineage
    from ingestion.pii.masking import general_schema
    from ingestion.pipeline.landed_run import open_lake, read_run_manifest

    started = time.monotonic()
    lake = open_lake(plan)
    manifest = read_run_manifest(plan, run, lake)
    expected = with_lineage(general_schema(plan.entity.columns))
    problems: list[str] = []
    if manifest.schema_fingerprint != schema_fingerprint(expected):
        problems.append(f"manifest schema fingerprint {manifest.schema_fingerprint} != config's")
    for landed in manifest.files:
        reader = BlobRangeReader(lake.blob(landed.path))
        if reader.size != landed.bytes:
            problems.append(f"{landed.path}: {reader.size} bytes, manifest says {landed.bytes}")
            continue
        metadata = pq.read_metadata(reader)
        if metadata.num_rows != landed.rows:
            problems.append(f"{landed.path}: {metadata.num_rows} rows, manifest says {landed.rows}")
        schema = metadata.schema.to_arrow_schema()
        if not schema.equals(expected):
            problems.append(f"{landed.path}: schema differs from the config's: {schema} != {expected}")
    total = sum(f.rows for f in manifest.files)
    if total != manifest.rows:
        problems.append(f"files hold {total} rows, manifest says {manifest.rows}")
    results = [
        CheckResult(
            "landed_structure",
            not problems,
            "error",
            "; ".join(problems) or f"{len(manifest.files)} file(s), {manifest.rows} rows, schema as configured",
        )
    ]
    for result in results:
        log.info("check %s: %s (%s)", result.name, "pass" if result.passed else "FAIL", result.detail)
    failed = [r for r in results if not r.passed and r.severity == "error"]
    if failed:
        raise ValidationFailedError(
            f"{plan.source}.{plan.entity.name}: failed check(s): " + "; ".join(f"{r.name}: {r.detail}" for r in failed)
        )
    return {
        "rows": manifest.rows,
        "checks": [asdict(r) for r in results],
        "seconds": round(time.monotonic() - started, 3),
    }
