"""One run out of a partitioned extract_land (load.partitions): the partitions' manifests assembled into the run's.

Each partition lands its own parts and manifest (land/paths.py names them); validate assembles the run's manifest
from all of them before it checks anything, so validate, publish, commit, retention and the UI see one run as
always. The assembled manifest lists every partition's parts in partition order and sums their counts; its
`landing_id` is derived from the partitions' landing ids, so assembling the same partitions again gives the same
landing (a retried validate changes nothing that publish recorded), and any partition landed again gives a new one.

Partitions must agree on what they read: the share of the split the config asks for now (count and key), the same window
and watermark move (an incremental run's are fixed by its first partition to start: pipeline/partition_agreement.py),
columns and schema. A partition landed under another split (the config changed between the partitions' tasks), or with
other columns (the source changed between their reads), fails the assembly, naming the partition; clearing the entity's
extract_land tasks lands them all again. The run's manifest records the split, with how many of its files each partition
landed (publish task k publishes partition k's), and publishing follows the manifest, not the config of the day.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from typing import TYPE_CHECKING

from ingestion.land.landing_facts import PartitionFacts
from ingestion.pipeline.errors import ManifestMissingError, PartitionsDisagreeError

if TYPE_CHECKING:
    from ingestion.land.lake_api import LakeContainer
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.land.paths import LandingPaths
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)


def assemble_partitions(plan: EntityPlan, run: RunInfo, storage: StageStorage) -> LandingManifest | None:
    """Write the run's manifest from its partitions' (general and sensitive zone), unless the one there is already
    that; returns it. None for an entity that is not partitioned."""
    from ingestion.pipeline.landed_run import landing_paths

    partitions = plan.entity.load.partitions
    if partitions is None:
        return None
    where = f"{plan.source}.{plan.entity.name}"
    paths = landing_paths(plan, run)
    lake = storage.landing(plan)
    layout = PartitionFacts(
        count=partitions.count,
        key=partitions.column or "",
        cuts=() if partitions.ranges else None,  # a split in ranges; the run's cuts are the partitions' (combine)
    )
    parts = []
    for k in range(partitions.count):
        part = _partition_manifest(lake, paths.of_partition(k), run, where)
        _check_share(part, k, layout, where)
        parts.append(part)
    manifest = combine(parts, where, layout)
    if manifest.facts.sensitive_manifest is not None:
        container = plan.landing.sensitive_container
        sensitive_paths = dataclasses.replace(paths, container=container)
        sensitive_lake = storage.lake(container)
        sensitive = combine(
            [
                _partition_manifest(sensitive_lake, sensitive_paths.of_partition(k), run, where)
                for k in range(partitions.count)
            ],
            where,
            layout,
        )
        _write_unless_same(sensitive_lake, sensitive_paths, sensitive)
        facts = dataclasses.replace(
            manifest.facts,
            sensitive_manifest=f"{container}/{sensitive_paths.manifest}",
            sensitive_files=tuple(f.path for f in sensitive.files),
        )
        manifest = dataclasses.replace(manifest, facts=facts)
    _write_unless_same(lake, paths, manifest)
    log.info(
        "%s: run %s assembled from %d partitions: %d rows in %d file(s) (%s)",
        where,
        run.run_id,
        partitions.count,
        manifest.rows,
        len(manifest.files),
        ", ".join(f"p{k}: {m.rows}" for k, m in enumerate(parts)),
    )
    return manifest


def _check_share(part: LandingManifest, k: int, layout: PartitionFacts, where: str) -> None:
    """Partition k's manifest says it read share k of the split the config asks for now: partitions landed under
    another count or key would read a row twice or not at all between them."""
    landed = part.facts.partitioning
    split = (k, layout.count, layout.key, layout.cuts is not None)
    if landed is None or (landed.partition, landed.count, landed.key, landed.cuts is not None) != split:
        how = "without partitions" if landed is None else f"as partition {landed.partition} of {landed.count}"
        by = f" by {_split_name(landed)}" if landed is not None else ""
        raise PartitionsDisagreeError(
            f"{where}: partition {k}'s manifest was landed {how}{by}, but load.partitions now asks for "
            f"{layout.count} by {_split_name(layout)}; clear every extract_land task of the run to land it again as "
            "the config says"
        )


def _cuts(part: LandingManifest) -> tuple[int, ...] | None:
    return part.facts.partitioning.cuts if part.facts.partitioning is not None else None


def _move(part: LandingManifest) -> tuple[str | None, str | None, int | None]:
    """Where an incremental partition's run starts and what it moves the watermark to: the run's, agreed by all."""
    facts = part.facts
    return facts.watermark_from, facts.watermark_to, facts.watermark_change_seen


def _split_name(split: PartitionFacts) -> str:
    if not split.key:
        return "the primary key hash"
    return f"ranges of {split.key}" if split.cuts is not None else split.key


def combine(parts: list[LandingManifest], where: str, layout: PartitionFacts) -> LandingManifest:
    """The run's manifest for its partitions' manifests (in partition order), with the run's split `layout`;
    refuses partitions that disagree."""
    first = parts[0]
    for k, part in enumerate(parts[1:], start=1):
        for what, mine, theirs in (
            ("schema", part.schema_fingerprint, first.schema_fingerprint),
            ("window", part.window, first.window),
            ("columns", part.facts.columns, first.facts.columns),
            ("range cuts", _cuts(part), _cuts(first)),
            ("watermark move", _move(part), _move(first)),
        ):
            if mine != theirs:
                raise PartitionsDisagreeError(
                    f"{where}: partition {k} landed another {what} than partition 0 (the source changed between "
                    "their reads); clear the entity's extract_land tasks to land every partition again"
                )
    if layout.cuts is not None:
        layout = dataclasses.replace(layout, cuts=_cuts(first))
    layout = dataclasses.replace(layout, files=tuple(len(p.files) for p in parts))
    facts = first.facts
    counted = [p.facts.sql.source_count if p.facts.sql is not None else None for p in parts]
    sql = facts.sql
    if sql is not None:
        sql = dataclasses.replace(sql, source_count=None if None in counted else sum(c or 0 for c in counted))
    left_out = [p.facts.left_out_at_boundary for p in parts]
    facts = dataclasses.replace(
        facts,
        sql=sql,
        left_out_at_boundary=None if all(x is None for x in left_out) else sum(x or 0 for x in left_out),
        partitioning=layout,
    )
    # The layout is part of the landing: publishing splits the run by it, so another layout is another landing.
    identity = [*(p.landing_id for p in parts), json.dumps(layout.to_json(), sort_keys=True)]
    landing_id = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:32]
    return dataclasses.replace(
        first,
        rows=sum(p.rows for p in parts),
        bytes=sum(p.bytes for p in parts),
        files=[f for p in parts for f in p.files],
        landed_at=max(p.landed_at for p in parts),
        facts=facts,
        landing_id=landing_id,
    )


def _partition_manifest(lake: LakeContainer, paths: LandingPaths, run: RunInfo, where: str) -> LandingManifest:
    from azure.core.exceptions import ResourceNotFoundError

    from ingestion.land.parquet_lander import read_manifest

    try:
        manifest = read_manifest(lake, paths)
    except ResourceNotFoundError:
        raise ManifestMissingError(
            f"{where}: partition {paths.partition} of run {run.run_id} has no manifest at "
            f"{paths.container}/{paths.manifest}; its extract_land has not finished"
        ) from None
    if manifest.run_id != run.run_id:
        raise ManifestMissingError(
            f"{where}: {paths.manifest} belongs to run {manifest.run_id}, not {run.run_id}; clear this run's "
            f"extract_land partition {paths.partition}"
        )
    return manifest


def _write_unless_same(lake: LakeContainer, paths: LandingPaths, manifest: LandingManifest) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    from ingestion.land.parquet_lander import read_manifest

    try:
        there = read_manifest(lake, paths)
    except ResourceNotFoundError:
        there = None
    if there is not None and there.landing_id == manifest.landing_id and there.run_id == manifest.run_id:
        return
    lake.put(paths.manifest, manifest.to_json().encode())
