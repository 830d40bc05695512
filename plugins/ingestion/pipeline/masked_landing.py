"""Land a run's batches with the entity's PII policy applied: masked values to the general zone, raw values of
`sensitive` columns and of undeclared data (with the primary key and lineage) to the sensitive container.

The sensitive part of a run is finished (parts and its own manifest) before the general manifest is written, so a
run that readers can see through its manifest always has its sensitive rows in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.config.models import Column
    from ingestion.land.landing_facts import LandingFacts
    from ingestion.land.parquet_lander import LandingManifest, ParquetLander
    from ingestion.pii.keys import ConnectionLookup, PiiKeys
    from ingestion.pii.masking import PiiMasker
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.sources.base import SourceBatch
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan


def load_plan_keys(plan: EntityPlan, lookup: ConnectionLookup | None = None) -> PiiKeys:
    """The keys the entity's PII columns need, loaded now: a missing one raises PiiKeyError before extraction."""
    from ingestion.pii.keys import airflow_connection_lookup, load_pii_keys

    return load_pii_keys(
        where=f"{plan.source}.{plan.entity.name}",
        columns=plan.entity.columns,
        hash_key_conn_id=plan.pii_keys.hash_key_conn_id,
        encryption_key_conn_id=plan.pii_keys.encryption_key_conn_id,
        lookup=lookup or airflow_connection_lookup,
    )


def pii_masker(plan: EntityPlan, keys: PiiKeys, columns: Sequence[Column]) -> PiiMasker:
    """The masker for the columns a run lands (the declared ones, or as schema evolution left them), with the
    entity's policy for undeclared data (kept out of the general zone unless it opted in)."""
    from ingestion.pii.masking import PiiMasker, raw_to_sensitive, withheld_from_general

    entity = plan.entity
    return PiiMasker(
        source=plan.source,
        entity=entity.name,
        columns=columns,
        primary_key=entity.primary_key,
        keys=keys,
        withheld=withheld_from_general(entity, columns),
        raw=raw_to_sensitive(entity, columns),
    )


class MaskedLanding:
    """A run's batches to the lake, masked (rows as they come; see RecordRunLanding for typed records)."""

    def __init__(self, plan: EntityPlan, run: RunInfo, masker: PiiMasker, storage: StageStorage) -> None:
        from ingestion.land.parquet_lander import ParquetLander
        from ingestion.pipeline.landed_run import partition_paths

        self.masker = masker
        self.where = f"{plan.source}.{plan.entity.name}"
        paths = partition_paths(plan, run)
        lake = storage.landing(plan)
        lake.ensure_container()
        self.general = ParquetLander(lake, paths, masker.schema, run_id=run.run_id)
        self.sensitive: ParquetLander | None = None
        if masker.sensitive_schema is not None:
            container = plan.landing.sensitive_container
            sensitive_lake = storage.lake(container)
            sensitive_lake.ensure_container()
            self.sensitive = ParquetLander(
                sensitive_lake,
                dataclasses.replace(paths, container=container),
                masker.sensitive_schema,
                run_id=run.run_id,
                ingested_at=self.general.ingested_at,
            )

    def add(self, part: SourceBatch) -> None:
        self.write(part.batch)

    def write(self, batch: pa.RecordBatch) -> None:
        from ingestion.faults import fault_point

        self.general.write(self.masker.general(batch))
        if self.sensitive is not None:
            raw = self.masker.sensitive(batch)
            assert raw is not None
            self.sensitive.write(raw)
        fault_point(
            "land.batch", self.where, progress=self.general.rows_written, partition=self.general.paths.partition
        )

    def abort(self) -> None:
        self.general.abort()
        if self.sensitive is not None:
            self.sensitive.abort()

    def finish(self, *, window: str, facts: LandingFacts) -> LandingManifest:
        facts = dataclasses.replace(facts, pii_key_ids=self.masker.keys.ids())
        if self.sensitive is not None:
            sensitive = self.sensitive.finish(window=window, facts=facts)
            facts = dataclasses.replace(
                facts,
                sensitive_manifest=f"{sensitive.container}/{self.sensitive.paths.manifest}",
                sensitive_files=tuple(f.path for f in sensitive.files),
            )
        return self.general.finish(window=window, facts=facts)
