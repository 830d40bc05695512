"""Typed, frozen models of a source config. Validated once at load; everything downstream reads these, never dicts.

Pure: no Airflow import, so the planner, the CLI and the schema generator use them without a scheduler.
Secrets never live here: configs name Airflow connection ids, and a value that looks like a credential is refused.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ingestion.config.column_types import check_column_type

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
SCHEDULE_PRESETS = frozenset({"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@continuous"})
# Presets with no period: their runs have no data interval, so interval entities cannot use them.
NON_PERIODIC_SCHEDULES = frozenset({"@once", "@continuous"})
CONN_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,200}$"
# Keys whose presence anywhere in a config means someone pasted a credential instead of a connection id.
SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "access_key",
        "client_secret",
        "private_key",
        "connection_string",
        "sas_token",
    }
)

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower snake_case, starts with a letter")]
ConnId = Annotated[str, Field(pattern=CONN_ID_PATTERN, description="an Airflow connection id, never a secret")]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SourceKind(StrEnum):
    SQL = "sql"
    HTTP = "http"
    SFTP = "sftp"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class PiiStrategy(StrEnum):
    HASH = "hash"
    REDACT = "redact"
    DROP = "drop"
    ENCRYPT = "encrypt"
    SENSITIVE = "sensitive"


class Owners(Frozen):
    primary: str = Field(min_length=1)
    secondary: str | None = None
    team: str = Field(min_length=1)
    contact: str | None = Field(default=None, description="e-mail or channel of the owning team")


class Column(Frozen):
    name: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, description="logical type: string, integer, decimal(p,s), timestamp, ...")
    nullable: bool = True
    description: str = ""
    pii: bool = False
    pii_strategy: PiiStrategy | None = None

    @field_validator("name")
    @classmethod
    def _safe_identifier(cls, value: str) -> str:
        _reject_unsafe_identifier(value)
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if (problem := check_column_type(value)) is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _pii_needs_strategy(self) -> Column:
        if self.pii and self.pii_strategy is None:
            raise ValueError(
                f"column {self.name!r} is marked pii but has no pii_strategy "
                f"(one of {', '.join(s.value for s in PiiStrategy)})"
            )
        if self.pii_strategy is not None and not self.pii:
            raise ValueError(f'column {self.name!r} has a pii_strategy but is not marked pii: set "pii": true')
        return self


class LoadMode(Frozen):
    mode: Literal["full", "incremental", "interval"] = Field(
        default="full",
        description="full: everything each run; incremental: rows past the watermark on cursor_column (for sftp: "
        "new or changed files); interval: rows whose cursor_column falls in the run's data interval",
    )
    cursor_column: str | None = None
    lookback_minutes: int = Field(default=0, ge=0, description="re-read this far below the watermark for late rows")
    safety_margin_seconds: int = Field(
        default=60, ge=0, description="upper bound is min(max cursor at start, now - margin)"
    )

    @field_validator("cursor_column")
    @classmethod
    def _safe_cursor(cls, value: str | None) -> str | None:
        if value is not None:
            _reject_unsafe_identifier(value)
        return value


class Check(Frozen):
    kind: Literal[
        "not_null",
        "unique",
        "accepted_values",
        "range",
        "regex",
        "freshness",
        "row_count",
        "zero_rows",
        "row_count_anomaly",
    ]
    columns: tuple[str, ...] = ()
    severity: Literal["error", "warn"] = "error"
    params: dict[str, Any] = Field(default_factory=dict)


class SqlLocator(Frozen):
    kind: Literal["sql"] = "sql"
    table: str | None = None
    schema_name: str | None = Field(default=None, alias="schema")
    query: str | None = None

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlLocator:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table or query")
        for identifier in (self.table, self.schema_name):
            if identifier is not None:
                _reject_unsafe_identifier(identifier)
        return self


class HttpLocator(Frozen):
    kind: Literal["http"] = "http"
    endpoint: str = Field(min_length=1)
    record_path: str = "data"
    pagination: dict[str, Any] = Field(default_factory=lambda: {"style": "page_number"})
    incremental_param: str | None = None


class SftpLocator(Frozen):
    kind: Literal["sftp"] = "sftp"
    remote_path: str = Field(min_length=1)
    file_pattern: str = "*"
    file_format: Literal["csv", "jsonl", "parquet"] = "csv"
    compression: Literal["none", "gzip", "auto"] = "auto"

    @field_validator("remote_path")
    @classmethod
    def _no_parent_segments(cls, value: str) -> str:
        if ".." in value.replace("\\", "/").split("/"):
            raise ValueError(f"remote_path {value!r} contains '..'")
        return value


Locator = Annotated[SqlLocator | HttpLocator | SftpLocator, Field(discriminator="kind")]


class Landing(Frozen):
    conn_id: ConnId = "lake_wasb"
    container: str = Field(default="landing", pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
    format: Literal["parquet", "jsonl", "csv"] = "parquet"
    sensitive_container: str = Field(default="sensitive", pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")


class Kafka(Frozen):
    conn_id: ConnId = "kafka_default"
    topic_template: str = Field(
        default="ingest.{source}.{entity}",
        pattern=r"^[A-Za-z0-9._{}-]+$",
        description="topic name; {source} and {entity} are filled in",
    )
    key_columns: tuple[str, ...] = Field(default=(), description="message key columns; empty means the primary key")
    partitions: int = Field(default=3, ge=1, le=1000, description="partitions of the topic if the platform creates it")
    replication_factor: int = Field(
        default=1, ge=1, le=7, description="replication of the topic if the platform creates it (3 in production)"
    )
    publish_timeout_seconds: int = Field(
        default=300,
        ge=10,
        le=3600,
        description="how long publish waits for the broker to acknowledge a run's messages before it aborts",
    )

    @field_validator("topic_template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = set(re.findall(r"{([^}]*)}", value)) - {"source", "entity"}
        if unknown:
            raise ValueError(f"topic_template may use {{source}} and {{entity}} only, not {sorted(unknown)}")
        return value


class PiiKeys(Frozen):
    """Which Airflow connections hold the PII keys (the keys themselves never live in a config)."""

    hash_key_conn_id: ConnId = Field(
        default="pii_hash_key", description="connection whose password is the HMAC key for pii_strategy hash"
    )
    encryption_key_conn_id: ConnId = Field(
        default="pii_encryption_key",
        description="connection whose password is the base64 AES-256 key for pii_strategy encrypt",
    )


class Alerts(Frozen):
    severity: Severity = Severity.HIGH
    channels: tuple[ConnId, ...] = ()
    escalate_after_minutes: int = Field(default=30, ge=1)


class Deadline(Frozen):
    expected_duration_minutes: int | None = Field(
        default=None, ge=1, description="alert when a run is still going this long after it was queued"
    )
    finish_by: str | None = Field(
        default=None,
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="HH:MM (UTC): alert when the run for a day has not finished by then",
    )


class Retries(Frozen):
    count: int = Field(default=3, ge=0, le=20)
    delay_seconds: int = Field(default=60, ge=1)
    backoff_multiplier: float = Field(default=2.0, ge=1.0, description="each retry waits this much longer; 1 = fixed")
    max_delay_minutes: int = Field(default=30, ge=1)


class Retention(Frozen):
    raw_days: int = Field(default=30, ge=1)
    archive_days: int = Field(default=365, ge=1)


class Entity(Frozen):
    name: Name
    description: str = ""
    locator: Locator
    primary_key: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    load: LoadMode = LoadMode()
    checks: tuple[Check, ...] = ()
    landing: Landing | None = None
    kafka: Kafka | None = None
    alerts: Alerts | None = None

    @model_validator(mode="after")
    def _keys_are_columns(self) -> Entity:
        # Files are their own cursor (mtime and name); rows need a column to compare against the watermark.
        if self.load.mode != "full" and not self.load.cursor_column and self.locator.kind != "sftp":
            raise ValueError(f"load mode {self.load.mode!r} needs load.cursor_column for a {self.locator.kind} entity")
        names = [c.name for c in self.columns]
        if duplicates := _duplicates(names):
            raise ValueError(f"duplicate column names: {duplicates}")
        if self.columns:
            missing = [k for k in self.primary_key if k not in names]
            if missing:
                raise ValueError(f"primary_key {missing} not among the declared columns")
            if self.kafka and (missing := [k for k in self.kafka.key_columns if k not in names]):
                raise ValueError(f"kafka.key_columns {missing} not among the declared columns")
        self._pii_fits_keys_and_checks()
        return self

    def _pii_fits_keys_and_checks(self) -> None:
        strategies = {c.name: c.pii_strategy for c in self.columns if c.pii and c.pii_strategy}
        if not strategies:
            return
        # Keys must stay stable and joinable: a hash is, every other strategy is not (redacted keys collide).
        keys = set(self.primary_key) | set(self.kafka.key_columns if self.kafka else ())
        if unstable := sorted(k for k in keys if strategies.get(k, PiiStrategy.HASH) != PiiStrategy.HASH):
            raise ValueError(f"key column(s) {unstable} may only use pii_strategy hash, or none")
        cursor = self.load.cursor_column
        if cursor in strategies:
            raise ValueError(f"the cursor column {cursor!r} cannot be masked: windows and freshness read it")
        if PiiStrategy.SENSITIVE in strategies.values() and not self.primary_key:
            raise ValueError("pii_strategy sensitive needs a primary_key, to join the raw values back")
        dropped = {name for name, strategy in strategies.items() if strategy == PiiStrategy.DROP}
        for check in self.checks:
            if gone := sorted(dropped.intersection(check.columns)):
                raise ValueError(f"check {check.kind} names column(s) {gone}, which pii_strategy drop removes")


class SourceConfig(Frozen):
    schema_ref: str | None = Field(default=None, alias="$schema")
    name: Name
    description: str = ""
    owners: Owners
    schedule: str | None = Field(default="@daily", description="cron expression, preset like @daily, or null")
    start_date: datetime
    catchup: bool = False
    tags: tuple[str, ...] = ()
    kind: SourceKind
    conn_id: ConnId
    landing: Landing = Landing()
    kafka: Kafka = Kafka()
    alerts: Alerts = Alerts()
    deadline: Deadline = Deadline()
    retention: Retention = Retention()
    retries: Retries = Retries()
    pii: PiiKeys = PiiKeys()
    entities: tuple[Entity, ...] = Field(min_length=1)

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        if value is None or value.startswith("@"):
            if value is not None and value not in SCHEDULE_PRESETS:
                raise ValueError(f"unknown schedule preset {value!r}; use one of {sorted(SCHEDULE_PRESETS)} or a cron")
            return value
        if not _cron_is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value

    @model_validator(mode="after")
    def _entities_fit_source(self) -> SourceConfig:
        if duplicates := _duplicates([e.name for e in self.entities]):
            raise ValueError(f"duplicate entity names: {duplicates}")
        for entity in self.entities:
            if entity.locator.kind != self.kind.value:
                raise ValueError(
                    f"entity {entity.name!r} has a {entity.locator.kind} locator but the source kind is {self.kind}"
                )
        return self


@functools.lru_cache(maxsize=1024)
def _cron_is_valid(expression: str) -> bool:
    # Cached: many sources share a handful of schedules, and croniter's parser costs ~0.2 ms a call.
    from croniter import croniter

    return bool(croniter.is_valid(expression))


def _duplicates(names: list[str]) -> list[str]:
    if len(set(names)) == len(names):  # the common case, without the quadratic count
        return []
    return sorted({n for n in names if names.count(n) > 1})


_UNSAFE_IDENTIFIER_CHARS = frozenset("\"'`;\\")
# Fast pre-check over a config's raw text: only when a secret-looking key may be present (or keys are \u-escaped)
# is the full walk needed. Parse time matters: the loader runs for every config on every parse.
_SECRET_KEY_HINT = re.compile(r'"(?:' + "|".join(sorted(SECRET_KEYS)) + r')"\s*:|\\u', re.IGNORECASE)


def _reject_unsafe_identifier(value: str) -> None:
    # Identifiers are quoted for the dialect at extract time; quotes, semicolons and comments are refused here
    # so that a config can never smuggle SQL, whatever the quoting does.
    # Plain string checks, not a regex: this runs for every identifier of every config on every parse.
    if not _UNSAFE_IDENTIFIER_CHARS.isdisjoint(value) or "--" in value or "/*" in value:
        raise ValueError(f"identifier {value!r} contains a quote, semicolon, backslash or comment marker")


def may_hold_secret_keys(raw_text: str) -> bool:
    """False when the raw JSON text certainly has no credential-looking key, so find_secret_keys can be skipped."""
    return _SECRET_KEY_HINT.search(raw_text) is not None


def find_secret_keys(data: Any, path: str = "$") -> list[str]:
    """JSON paths of keys that look like credentials (configs carry connection ids, never secrets)."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            child = f"{path}.{key}"
            if str(key).lower() in SECRET_KEYS:
                found.append(child)
            found.extend(find_secret_keys(value, child))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(find_secret_keys(value, f"{path}[{index}]"))
    return found
