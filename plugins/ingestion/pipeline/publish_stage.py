"""publish: the run's landed rows, read back through its manifest, to the entity's topic in one Kafka transaction.

A run the control database already holds as committed is not published again, nor is one in the topic's publish
log (see ingestion.publish.kafka_publisher); either way the stage succeeds with the earlier count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan
    from ingestion.publish.kafka_publisher import PublishTarget

log = logging.getLogger(__name__)


def message_headers(plan: EntityPlan, run: RunInfo, manifest: LandingManifest) -> tuple[tuple[str, str], ...]:
    return (
        ("ingest_run_id", run.run_id),
        ("ingest_source", plan.source),
        ("ingest_entity", plan.entity.name),
        ("ingest_schema_fingerprint", manifest.schema_fingerprint),
    )


def publish_target(plan: EntityPlan, run: RunInfo, manifest: LandingManifest) -> PublishTarget:
    from ingestion.pii.masking import general_schema
    from ingestion.pipeline.landed_run import landed_columns
    from ingestion.publish.kafka_publisher import PublishTarget, publish_group

    return PublishTarget(
        topic=plan.topic,
        partitions=plan.kafka.partitions,
        replication_factor=plan.kafka.replication_factor,
        key_columns=tuple(plan.key_columns),
        # As landed: masked, dropped ones gone, evolved ones as the manifest says.
        value_columns=tuple(general_schema(landed_columns(plan, manifest)).names),
        headers=message_headers(plan, run, manifest),
        run_key=run.run_id,
        expected_rows=manifest.rows,
        timeout_seconds=float(plan.kafka.publish_timeout_seconds),
        log_group=publish_group(plan.source, plan.entity.name),
        landing_id=manifest.landing_id,
    )


def publish_run(
    plan: EntityPlan,
    run: RunInfo,
    *,
    producer_config: dict[str, Any] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    from ingestion.pipeline.landed_run import landed_batches, open_lake, read_run_manifest
    from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook
    from ingestion.publish.kafka_publisher import PublishResult, publish
    from ingestion.state.store import open_control_store

    with open_control_store() as store:
        committed = store.committed_run(plan.source, plan.entity.name, run.run_id)
    if committed is not None:
        log.info(
            "%s.%s run %s was committed before with %d published rows: not publishing again",
            plan.source,
            plan.entity.name,
            run.run_id,
            committed["rows_published"],
        )
        return PublishResult(plan.topic, committed["rows_published"], True, {}, 0.0).summary()
    lake = open_lake(plan)
    manifest = read_run_manifest(plan, run, lake)
    target = publish_target(plan, run, manifest)
    hook = TransactionalKafkaProducerHook(
        kafka_config_id=plan.kafka.conn_id,
        transactional_id=f"ingest.{plan.source}.{plan.entity.name}",
        producer_config=producer_config,
    )
    result = publish(
        hook, target, lambda: landed_batches(lake, manifest, list(target.value_columns)), on_batch=on_batch
    )
    return result.summary()
