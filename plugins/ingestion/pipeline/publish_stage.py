"""publish: the run's landed rows, read back through its manifest, to the entity's topic in one Kafka transaction.

A run the control database already holds as committed is not published again, nor is one in the entity's publish
log (see ingestion.publish.kafka_publisher); either way the stage succeeds with the earlier count.

Before the transaction begins, the run's publish record (landing id, watermark window) goes into the control
database: from then on the run is frozen (see pipeline.run_guard). A run of a watermark entity whose watermark was
moved since it landed is refused before anything is sent: its window no longer starts where the watermark is, so
publishing it would send rows twice or commit over rows never read. When another run committed after this one read
the watermark (two runs started side by side), this run is superseded: its publish and commit are skipped, and the
next run reads on from the live watermark. A run that landed from the live watermark while another run
that did too has begun publishing and not committed waits (up_for_reschedule) until that one committed.

An entity read in partitions (load.partitions) is published by as many tasks (the publish task mapped over the same
indexes): task k publishes the files partition k landed (publish/kafka_publisher.py, PublishSplit), with the
transactional id `ingest.<source>.<entity>.g<k>` and a publish log of its own. Commit adds up their counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ingestion.faults import fault_point
from ingestion.pipeline.errors import PublishLayoutError, RunSupersededError, WatermarkMovedError

if TYPE_CHECKING:
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.pipeline.contracts import PublishedRun
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan
    from ingestion.publish.kafka_publisher import PublishSplit, PublishTarget
    from ingestion.state.store import ControlStore, PublishRecord

# Further librdkafka settings for the producer (e.g. linger.ms); the exactly-once ones cannot be overridden.
ProducerSettings = Mapping[str, str | int | float | bool]

log = logging.getLogger(__name__)


def message_headers(plan: EntityPlan, run: RunInfo, manifest: LandingManifest) -> tuple[tuple[str, str], ...]:
    return (
        ("ingest_run_id", run.run_id),
        ("ingest_source", plan.source),
        ("ingest_entity", plan.entity.name),
        ("ingest_schema_fingerprint", manifest.schema_fingerprint),
    )


def transactional_id(plan: EntityPlan, run: RunInfo) -> str:
    """One per entity, or per publish group of a partitioned entity: stable across attempts, so the next attempt
    fences a dead one."""
    base = f"ingest.{plan.source}.{plan.entity.name}"
    return base if run.partition is None else f"{base}.g{run.partition}"


def _split(plan: EntityPlan, run: RunInfo, manifest: LandingManifest) -> PublishSplit | None:
    """This task's share of the run, as the run was landed (its manifest's split), or None to publish it whole.
    Refuses a task that does not match how the run was landed: publishing it another way would send rows again."""
    from ingestion.publish.kafka_publisher import PublishSplit

    landed = manifest.facts.partitioning
    tasks = plan.entity.load.partitions
    if landed is None and run.partition is None:
        return None
    where = f"{plan.source}.{plan.entity.name} run {run.run_id}"
    if landed is not None and landed.files is None:
        # Assembled by a version whose publish tasks each placed every row by its key: a task of this version would
        # publish other rows than the tasks of that one that may have published already.
        raise PublishLayoutError(
            f"{where} was assembled by an earlier version of the platform, which split publishing another way; "
            "nothing was published. If none of its publish tasks has succeeded, clear the run's validate task (it "
            "assembles the run again) and its publish tasks; otherwise trigger a new run"
        )
    if landed is not None and run.partition is not None and tasks is not None and tasks.count == landed.count:
        return PublishSplit(groups=landed.count, group=run.partition)
    how = "whole" if landed is None else f"in {landed.count} partitions"
    now = f"{tasks.count} tasks" if tasks is not None else "one task"
    raise PublishLayoutError(
        f"{where} was landed {how}, but load.partitions now publishes it "
        f"in {now}; nothing was published. Put load.partitions back until this run has committed, or, if the run "
        "never began publishing, clear it from extract_land to land it as the config now says"
    )


def share_of(manifest: LandingManifest, split: PublishSplit | None) -> LandingManifest:
    """The part of the run's landing a publish task publishes: all of it, or the files partition `split.group`
    landed (the run's manifest lists them in partition order, with each partition's file count)."""
    import dataclasses

    layout = manifest.facts.partitioning
    if split is None or layout is None or layout.files is None:
        return manifest
    first = sum(layout.files[: split.group])
    files = manifest.files[first : first + layout.files[split.group]]
    rows, size = sum(f.rows for f in files), sum(f.bytes for f in files)
    return dataclasses.replace(manifest, files=files, rows=rows, bytes=size)


def publish_target(plan: EntityPlan, run: RunInfo, manifest: LandingManifest) -> PublishTarget:
    """What the task publishes of the run whose manifest is `manifest`: all of it, or its partition's share."""
    from ingestion.pii.masking import entity_general_schema
    from ingestion.pipeline.landed_run import landed_columns
    from ingestion.publish.kafka_publisher import PublishTarget, publish_group

    split = _split(plan, run, manifest)
    log_names = (plan.source, plan.entity.name) if split is None else (plan.source, plan.entity.name, f"g{split.group}")

    return PublishTarget(
        topic=plan.topic,
        partitions=plan.kafka.partitions,
        replication_factor=plan.kafka.replication_factor,
        key_columns=tuple(plan.key_columns),
        # As landed: masked, dropped and withheld (undeclared) ones gone, evolved ones as the manifest says.
        value_columns=tuple(entity_general_schema(plan.entity, landed_columns(plan, manifest)).names),
        headers=message_headers(plan, run, manifest),
        run_key=run.run_id,
        expected_rows=share_of(manifest, split).rows,
        timeout_seconds=float(plan.kafka.publish_timeout_seconds),
        log_group=publish_group(*log_names),
        landing_id=manifest.landing_id,
        split=split,
    )


def publish_run(
    plan: EntityPlan,
    run: RunInfo,
    *,
    producer_config: ProducerSettings | None = None,
    on_batch: Callable[[int], None] | None = None,
    storage: StageStorage | None = None,
) -> PublishedRun:
    """Publish the run's landing once (see the module docstring); `on_batch` gets the messages produced so far."""
    from ingestion.pipeline.contracts import PublishedRun
    from ingestion.pipeline.landed_run import landed_batches, read_run_manifest
    from ingestion.pipeline.storage import StageStorage
    from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook
    from ingestion.publish.kafka_publisher import publish

    storage = storage or StageStorage.of(plan)
    where = f"{plan.source}.{plan.entity.name}"
    with storage.control_store() as store:
        committed = store.committed_run(plan.source, plan.entity.name, run.run_id)
        if committed is not None:
            log.info(
                "%s run %s was committed before with %d published rows: not publishing again",
                where,
                run.run_id,
                committed.rows_published,
            )
            # The record holds the whole run's count: a publish group of a partitioned run carries it once (group
            # 0), so the counts commit adds up are the run's.
            rows = committed.rows_published if not run.partition else 0
            return PublishedRun(plan.topic, rows, already_published=True)
        lake = storage.landing(plan)
        manifest = read_run_manifest(plan, run, lake)
        target = publish_target(plan, run, manifest)  # refuses a task that does not match how the run was landed
        started = _begin(plan, run, manifest, store)
    # The record's count is the whole run's; a publish group asks its own publish log instead.
    if started.rows is not None and run.partition is None:
        log.info("%s run %s published %d messages before: not publishing again", where, run.run_id, started.rows)
        return PublishedRun(plan.topic, started.rows, already_published=True)
    hook = TransactionalKafkaProducerHook(
        kafka_config_id=plan.kafka.conn_id,
        transactional_id=transactional_id(plan, run),
        transaction_timeout_ms=plan.kafka.transaction_timeout_ms,
        producer_config=dict(producer_config) if producer_config is not None else None,
    )

    def progress(produced: int) -> None:
        fault_point("publish.batch", where, progress=produced, partition=run.partition)
        if on_batch is not None:
            on_batch(produced)

    share = share_of(manifest, target.split)
    read = list(dict.fromkeys([*target.value_columns, *target.key_columns]))
    result = publish(hook, target, lambda: landed_batches(lake, share, read), on_batch=progress)
    fault_point("publish.committed", where, partition=run.partition)
    # The transaction committed (or the publish log says an earlier attempt's did): the record says so, so a later
    # retry need not ask Kafka. If this write is lost, the publish log still answers for the run. A group's count is
    # not the run's: its publish log answers for it.
    if run.partition is None:
        with storage.control_store() as store:
            store.finish_publish(plan.source, plan.entity.name, run.run_id, result.rows)
    return PublishedRun.of(result)


def _begin(plan: EntityPlan, run: RunInfo, manifest: LandingManifest, store: ControlStore) -> PublishRecord:
    """The run's publish record, written now if this is its first attempt (after checking that its window still
    starts at the live watermark)."""
    from ingestion.pipeline.run_guard import moves_watermark

    if not moves_watermark(plan, run):
        return _record_begin(plan, run, manifest, store, moves=False)
    from ingestion.state.entity_lock import publish_turn

    # The entity's turn: no other run's publish task checks and begins between this one's checks and its record.
    with publish_turn(store.engine, plan.source, plan.entity.name):
        if store.publish_record(plan.source, plan.entity.name, run.run_id) is None:
            _refuse_unless_first_from_the_watermark(plan, run, manifest, store)
        return _record_begin(plan, run, manifest, store, moves=True)


def _refuse_unless_first_from_the_watermark(
    plan: EntityPlan, run: RunInfo, manifest: LandingManifest, store: ControlStore
) -> None:
    """Two runs that both read from the live watermark before either began publishing (a manual trigger beside a
    scheduled run) landed the same rows: only the first to publish may send them. This one waits for it to commit,
    and is then superseded. In this order: a run found publishing either committed before the superseded check reads
    the history, or this one waits; checked the other way round, a commit landing between the two checks let this
    run through."""
    from ingestion.pipeline.run_guard import refuse_behind_an_uncommitted_publish

    refuse_behind_an_uncommitted_publish(plan, run, store)
    _refuse_if_superseded(plan, run, manifest, store)
    _refuse_if_watermark_moved(plan, run, manifest, store)


def _record_begin(
    plan: EntityPlan, run: RunInfo, manifest: LandingManifest, store: ControlStore, *, moves: bool
) -> PublishRecord:
    from ingestion.state.store import PublishRecord

    facts = manifest.facts
    return store.begin_publish(
        PublishRecord(
            source=plan.source,
            entity=plan.entity.name,
            run_id=run.run_id,
            landing_id=manifest.landing_id,
            manifest=f"{manifest.container}/{_manifest_path(plan, run)}",
            topic=plan.topic,
            moves_watermark=moves,
            watermark_from=facts.watermark_from,
            watermark_to=facts.watermark_to,
            watermark_type=facts.watermark_type,
        )
    )


def _manifest_path(plan: EntityPlan, run: RunInfo) -> str:
    from ingestion.pipeline.landed_run import landing_paths

    return landing_paths(plan, run).manifest


def _refuse_if_superseded(plan: EntityPlan, run: RunInfo, manifest: LandingManifest, store: ControlStore) -> None:
    """Another run committed after this one read the watermark: it read from the same watermark, or from an older one
    and moved it to where this one started, and either way this run's landing may hold rows it committed (rows tied
    with an unchanged watermark, a file with an older mtime than the watermark, or the whole window). Publishing
    would send them twice; skipping loses nothing, since the next run reads on from the live watermark. A landing
    from before the seen change was recorded is left to the watermark check."""
    seen = manifest.facts.watermark_change_seen
    if seen is None or run.full_refresh:
        return  # a full refresh sends every row again on purpose: the watermark check below still applies
    committed = store.runs_committed_since(plan.source, plan.entity.name, seen)
    if not committed:
        return
    from ingestion.state.boundary_keys import forget_run

    forget_run(store.engine, plan.source, plan.entity.name, run.run_id)  # it will never be the watermark's run
    raise RunSupersededError(
        f"{plan.source}.{plan.entity.name} run {run.run_id}: run {committed[0]} committed after this run read the "
        f"watermark ({manifest.facts.watermark_from!r}), so the rows both read are committed by run {committed[0]}. "
        "This run's landing is not published (those rows would be sent twice); what it read past that run's window "
        "is read by the next run, from the live watermark"
    )


def _refuse_if_watermark_moved(plan: EntityPlan, run: RunInfo, manifest: LandingManifest, store: ControlStore) -> None:
    from ingestion.state.watermark_values import same_watermark

    mark = store.get_watermark(plan.source, plan.entity.name)
    live = mark.value if mark is not None else None
    landed_from = manifest.facts.watermark_from
    if same_watermark(live, landed_from, manifest.facts.watermark_type or "timestamp"):
        return
    raise WatermarkMovedError(
        f"{plan.source}.{plan.entity.name} run {run.run_id}: the watermark is {live!r}, but this run landed its window "
        f"from {landed_from!r}: it was moved since (see `scripts/ingest watermark history {plan.source} "
        f"{plan.entity.name}`). Nothing was published. Clear the entity's tasks from extract_land: the run then "
        "lands its window again from the current watermark"
    )
