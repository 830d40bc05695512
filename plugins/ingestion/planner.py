"""The planner: a validated source config in, plain DAG and task metadata out. Pure: no Airflow import.

Everything the builder needs is decided here (ids, stages, edges, effective per-entity settings, retries, tags), so
it can be tested without a scheduler and reused by the CLI; the runbook module renders a plan as text. Only the
builder instantiates operators.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from ingestion.config.models import (
    Alerts,
    Entity,
    HttpOptions,
    Kafka,
    Landing,
    Owners,
    PiiKeys,
    SourceConfig,
    entity_topic,
)
from ingestion.land.paths import path_pattern

STAGES = ("extract_land", "validate", "publish", "commit")
DAG_ID_PREFIX = "ingest_"


def dag_id_for(source_name: str) -> str:
    return f"{DAG_ID_PREFIX}{source_name}"


def source_for_dag_id(dag_id: str) -> str | None:
    return dag_id.removeprefix(DAG_ID_PREFIX) if dag_id.startswith(DAG_ID_PREFIX) else None


@dataclass(frozen=True)
class EntityPlan:
    """One entity's TaskGroup: its stages in order, and the settings after entity overrides."""

    source: str
    conn_id: str  # the source's Airflow connection
    entity: Entity
    landing: Landing
    kafka: Kafka
    alerts: Alerts
    topic: str
    key_columns: tuple[str, ...]
    landing_path_pattern: str
    depends_on_past: bool
    schedule: str | None = None  # the source's, for runs that carry no data interval of their own
    pii_keys: PiiKeys = field(default_factory=PiiKeys)
    owners: Owners | None = None  # the source's, for alerts
    http: HttpOptions = field(default_factory=HttpOptions)  # the source's, for http entities
    source_timezone: str = "UTC"  # the source's, for its zone-less timestamps (sql entities)
    stages: tuple[str, ...] = STAGES

    @property
    def group_id(self) -> str:
        return self.entity.name

    @property
    def task_ids(self) -> tuple[str, ...]:
        return tuple(f"{self.group_id}.{stage}" for stage in self.stages)

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        ids = self.task_ids
        edges = tuple(itertools.pairwise(ids))
        if self.waits_for_previous_commit:
            # extract_land -> commit is implied by the chain; as a direct edge it makes commit one of the tasks
            # Airflow's wait_for_downstream checks in the previous run (it checks direct downstream tasks only).
            edges += ((ids[0], ids[-1]),)
        return edges

    @property
    def waits_for_previous_commit(self) -> bool:
        """Whether the entity's extract_land waits until the previous run's commit succeeded: a window starts where
        the previous run's commit left the watermark, so reading before it committed would read its rows again."""
        return self.depends_on_past and self.stages[0] == "extract_land" and self.stages[-1] == "commit"

    @property
    def sensitive_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.entity.columns if c.pii_strategy == "sensitive")


@dataclass(frozen=True)
class RetryPlan:
    retries: int
    retry_delay: timedelta
    backoff_multiplier: float
    max_retry_delay: timedelta


@dataclass(frozen=True)
class DagPlan:
    dag_id: str
    config: SourceConfig
    env: str
    description: str
    schedule: str | None
    start_date: datetime
    catchup: bool
    tags: tuple[str, ...]
    owner: str
    owner_links: dict[str, str]
    max_active_runs: int
    retry: RetryPlan
    entities: tuple[EntityPlan, ...]

    @property
    def task_ids(self) -> tuple[str, ...]:
        return tuple(task_id for entity in self.entities for task_id in entity.task_ids)

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        return tuple(edge for entity in self.entities for edge in entity.edges)


_Settings = TypeVar("_Settings", Landing, Kafka, Alerts)


def _override(source_level: _Settings, entity_level: _Settings | None) -> _Settings:
    # An entity override changes only the fields it names; the rest come from the source.
    if entity_level is None:
        return source_level
    return source_level.model_copy(update=entity_level.model_dump(exclude_unset=True))


def plan_entity(config: SourceConfig, entity: Entity) -> EntityPlan:
    landing = _override(config.landing, entity.landing)
    kafka = _override(config.kafka, entity.kafka)
    return EntityPlan(
        source=config.name,
        conn_id=config.conn_id,
        entity=entity,
        landing=landing,
        kafka=kafka,
        alerts=_override(config.alerts, entity.alerts),
        topic=entity_topic(config, entity),
        key_columns=kafka.key_columns or entity.primary_key,
        landing_path_pattern=path_pattern(landing.container, config.name, entity.name, landing.format),
        # A window starts where the previous run's commit left the watermark: runs of a cursor entity must
        # finish in order, and a failed one must stop the next.
        depends_on_past=entity.load.mode == "incremental",
        schedule=config.schedule,
        pii_keys=config.pii,
        owners=config.owners,
        http=config.http,
        source_timezone=config.source_timezone,
    )


def plan_source(config: SourceConfig, env: str = "dev") -> DagPlan:
    owners = config.owners
    retry = config.retries
    start = config.start_date if config.start_date.tzinfo else config.start_date.replace(tzinfo=UTC)
    entities = tuple(plan_entity(config, entity) for entity in config.entities)
    links = {}
    if owners.contact and owners.contact.startswith(("http://", "https://")):
        links[owners.team] = owners.contact
    elif owners.contact and "@" in owners.contact and " " not in owners.contact:
        links[owners.team] = f"mailto:{owners.contact}"
    tags = dict.fromkeys((*config.tags, "ingestion", f"kind:{config.kind.value}", f"team:{owners.team}", f"env:{env}"))
    return DagPlan(
        dag_id=dag_id_for(config.name),
        config=config,
        env=env,
        description=(config.description or f"Ingestion of {config.name}")[:200],
        schedule=config.schedule,
        start_date=start,
        catchup=config.catchup,
        tags=tuple(tags),
        owner=owners.team,
        owner_links=links,
        max_active_runs=max_active_runs(entities),
        retry=RetryPlan(
            retries=retry.count,
            retry_delay=timedelta(seconds=retry.delay_seconds),
            backoff_multiplier=retry.backoff_multiplier if retry.backoff_multiplier > 1 else 0,
            max_retry_delay=timedelta(minutes=retry.max_delay_minutes),
        ),
        entities=entities,
    )


# Active runs a source allows when a run can wait for its predecessor's commit (see max_active_runs).
WAITING_SOURCE_MAX_ACTIVE_RUNS = 16


def max_active_runs(entities: tuple[EntityPlan, ...]) -> int:
    """One run at a time, unless a run of the source can wait for the previous run's commit.

    A waiting run holds its DAG run open. With one active run allowed, the earlier run whose commit failed, once
    cleared to retry it, is queued behind the waiting run and never starts: a deadlock, with the operator having
    done what the runbook says. So such sources allow several active runs; what one-at-a-time gave them is kept per
    entity: a watermark entity's extract_land waits for the previous commit (wait_for_downstream, and the publish
    guard for runs without a logical date), interval windows are disjoint, and publish runs one task at a time
    (one transactional id per entity). Sources where no run waits keep one run at a time: a cleared run only waits
    for the current one to finish, and full loads stay in order.
    """
    if any(entity.waits_for_previous_commit for entity in entities):
        return WAITING_SOURCE_MAX_ACTIVE_RUNS
    return 1


def find_entity(config: SourceConfig, entity_name: str) -> Entity:
    for entity in config.entities:
        if entity.name == entity_name:
            return entity
    names = ", ".join(e.name for e in config.entities)
    raise KeyError(f"source {config.name!r} has no entity {entity_name!r} (entities: {names})")
