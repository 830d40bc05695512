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
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ingestion.config.check_params import bound_problem, params_problem
from ingestion.config.column_types import check_column_type

# Lineage of file sources: the name of the file a row came from.
SOURCE_FILE_COLUMN = "_source_file"
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
        "pwd",
        "passphrase",
        "access_token",
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

CRON_FIELDS = 5
# Upper bounds of the durations a config gives in minutes, seconds or days. They become timedeltas (retry delays and
# deadlines of the DAG, windows, retention cut-offs counted back from today), and a number past what timedelta or date
# arithmetic holds raised OverflowError while the DAG folder was parsed. A year (of minutes or seconds) and about a
# century of days are far beyond any real setting, and far inside those ranges.
MAX_MINUTES = 527_040  # 366 days
MAX_SECONDS = MAX_MINUTES * 60
MAX_DAYS = 36_600
# Airflow refuses a DAG with a longer tag (airflow.sdk's TAG_MAX_LEN; not imported: the models stay pure).
MAX_TAG_CHARS = 100

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower snake_case, starts with a letter")]
ConnId = Annotated[str, Field(pattern=CONN_ID_PATTERN, description="an Airflow connection id, never a secret")]


class Frozen(BaseModel):
    # allow_inf_nan: the files are refused before (config_files), this keeps configs built in code to the same rule.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


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
    # The team names its Airflow role (team_<team>, see ingestion.access): one spelling per team, and short enough
    # for FAB's 64-character role names.
    team: str = Field(
        min_length=1,
        max_length=48,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="owning team (lowercase letters, digits, - and _): its users get the Airflow role team_<team>",
    )
    contact: str | None = Field(default=None, description="e-mail or channel of the owning team")

    @field_validator("contact")
    @classmethod
    def _link_has_a_host(cls, value: str | None) -> str | None:
        # An http(s) contact becomes the DAG's owner link, and Airflow refuses a link without a scheme and host.
        if value is None or not value.startswith(("http://", "https://")):
            return value
        try:
            host = urlsplit(value).netloc
        except ValueError:  # an unclosed IPv6 bracket
            host = ""
        if not host:
            raise ValueError(
                "a contact starting with http:// or https:// is a link and needs a host, e.g. https://host/"
            )
        return value


class Column(Frozen):
    name: str = Field(min_length=1, max_length=128)
    type: str = Field(
        min_length=1,
        description="logical type: string, json, smallint, integer, bigint, float, double, decimal(p,s), decimal "
        "(unbounded, exact text), boolean, date, time, timestamp, timestamp_ntz, interval, uuid, binary",
    )
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


class Partitions(Frozen):
    """extract_land split into `count` mapped tasks, each reading the rows whose key falls in its share. Each row's
    share follows from its own key alone, so a row is read by exactly one of them however the table changes while they
    read. An incremental window (its low end the watermark, its high end the max cursor) is fixed once per run, by the
    first partition to start, and every partition of the run reads that one (until a `watermark set` by hand, after
    which partitions landing again fix a new one)."""

    count: int = Field(ge=2, le=64, description="how many extract_land tasks read the entity's window side by side")
    column: str | None = Field(
        default=None,
        description="an integer column of the primary key: partition k reads the rows whose value modulo count is k "
        "(NULL: partition 0); without it, a hash of the primary key splits the rows (Postgres hashtextextended, or "
        "hashint8extended for one integer key; MySQL/MariaDB CRC32; SQL Server CHECKSUM)",
    )
    ranges: bool = Field(
        default=False,
        description="with column: partition k reads the k-th of count ranges of the column's values instead of a "
        "modulo, so each partition's query can use an index on the column rather than scan the table. The ranges "
        "split the column's min..max over the window's rows evenly; they are measured once per run, by the first "
        "partition to start, and stored beside the run's landing, so every partition (and every retry) of the run "
        "uses the same ones",
    )

    @field_validator("column")
    @classmethod
    def _safe_column(cls, value: str | None) -> str | None:
        if value is not None:
            _reject_unsafe_identifier(value)
        return value


class LoadMode(Frozen):
    mode: Literal["full", "incremental", "interval"] = Field(
        default="full",
        description="full: everything each run; incremental: rows past the watermark on cursor_column (for sftp: "
        "new or changed files); interval: rows whose cursor_column falls in the run's data interval",
    )
    cursor_column: str | None = Field(
        default=None,
        description="timestamp cursors: the window's high end is min(max cursor at start, now - safety margin); "
        "integer cursors (ids, sequences): the max cursor at start, and a row committed late with a lower id is "
        "read only within lookback_ids",
    )
    lookback_minutes: int = Field(
        default=0,
        ge=0,
        le=MAX_MINUTES,
        description="timestamp cursors: re-read this far below the watermark for late rows (re-sent: at-least-once)",
    )
    lookback_ids: int = Field(
        default=0,
        ge=0,
        description="integer cursors: re-read this many cursor units below the watermark for rows committed late "
        "with lower ids (re-sent: at-least-once)",
    )
    safety_margin_seconds: int = Field(
        default=60,
        ge=0,
        le=MAX_SECONDS,
        description="timestamp cursors: upper bound is min(max cursor at start, now - margin)",
    )
    partitions: Partitions | None = Field(
        default=None,
        description="SQL entities: read the window in this many extract_land tasks (Airflow dynamic task mapping) "
        "that land their own parts of one run; validate, publish and commit see one run. An incremental window is "
        "fixed by the first partition to start, and every partition reads it",
    )

    @field_validator("cursor_column")
    @classmethod
    def _safe_cursor(cls, value: str | None) -> str | None:
        if value is not None:
            _reject_unsafe_identifier(value)
        return value


# What each kind needs: how many columns (None: any number, 0: none) and which params must be present.
_CHECK_COLUMNS: dict[str, tuple[int | None, int | None]] = {
    "not_null": (1, None),
    "unique": (1, None),
    "accepted_values": (1, 1),
    "range": (1, 1),
    "regex": (1, 1),
    "freshness": (0, 1),
    "row_count": (0, 0),
    "zero_rows": (0, 0),
    "row_count_anomaly": (0, 0),
    "reconciliation": (0, 0),
}


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
        "reconciliation",
    ] = Field(
        description="not_null/unique(columns); accepted_values(column, params.values); range(column, params.min "
        "and/or max); regex(column, params.pattern); freshness(column or the cursor, params.max_age_minutes); "
        "row_count(params.min and/or max); zero_rows(params.policy allow|warn|fail); row_count_anomaly("
        "params.lookback_runs=10, tolerance=0.5); reconciliation (source count vs landed; always runs, this sets "
        "its severity)"
    )
    columns: tuple[str, ...] = ()
    severity: Literal["error", "warn"] = "error"
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fits_kind(self) -> Check:
        least, most = _CHECK_COLUMNS[self.kind]
        count = len(self.columns)
        if (least is not None and count < least) or (most is not None and count > most):
            wanted = f"{least}" if least == most else f"{least} to {most if most is not None else 'any'}"
            raise ValueError(f"check {self.kind} takes {wanted} column(s), got {count}")
        params = self.params
        if self.kind == "accepted_values" and not isinstance(params.get("values"), list | tuple):
            raise ValueError("check accepted_values needs params.values, a list")
        if self.kind in ("range", "row_count") and params.get("min") is None and params.get("max") is None:
            raise ValueError(f"check {self.kind} needs params.min and/or params.max")
        if self.kind == "regex":
            try:
                re.compile(str(params.get("pattern", "")))
            except (re.error, RecursionError) as exc:  # RecursionError: groups nested hundreds deep
                raise ValueError(f"check regex: params.pattern does not compile: {exc}") from None
            if not params.get("pattern"):
                raise ValueError("check regex needs params.pattern")
        if self.kind == "freshness" and not _positive_number(params.get("max_age_minutes")):
            raise ValueError("check freshness needs params.max_age_minutes, a positive number")
        if self.kind == "freshness" and params["max_age_minutes"] > MAX_MINUTES:
            raise ValueError(f"check freshness: params.max_age_minutes is at most {MAX_MINUTES} (a year)")
        if self.kind == "zero_rows" and params.get("policy", "fail") not in ("allow", "warn", "fail"):
            raise ValueError("check zero_rows: params.policy is one of allow, warn, fail")
        if (problem := params_problem(self.kind, params)) is not None:
            raise ValueError(problem)
        return self


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


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


class Pagination(Frozen):
    """How an endpoint pages. Paging stops at an empty page (page_number, offset), when the body has no next cursor
    or URL (cursor, next_url), or when the response has no `Link: rel="next"` (link_header)."""

    style: Literal["none", "page_number", "offset", "cursor", "next_url", "link_header"] = "page_number"
    page_param: str = Field(default="page", description="page_number: the page-number parameter")
    start_page: int = Field(default=1, ge=0, description="page_number: the first page's number")
    offset_param: str = Field(default="offset", description="offset: the offset parameter")
    size_param: str | None = Field(
        default="page_size", description="the page-size parameter (e.g. limit for offset paging); null: none sent"
    )
    page_size: int = Field(default=100, ge=1, le=100_000)
    cursor_param: str = Field(default="cursor", description="cursor: the parameter that carries the token")
    cursor_path: str = Field(default="next_cursor", description="cursor: dotted path of the next token in the body")
    next_url_path: str = Field(default="next", description="next_url: dotted path of the next page's URL in the body")
    max_pages: int = Field(
        default=10_000, ge=1, description="guard against endless paging: more pages than this fails the run"
    )


class HttpLocator(Frozen):
    kind: Literal["http"] = "http"
    endpoint: str = Field(min_length=1, description="path under the connection's base URL, e.g. /v1/orders")
    record_path: str = Field(default="data", description='dotted path of the record list in the body; "" = the body')
    pagination: Pagination = Pagination()
    params: dict[str, str] = Field(default_factory=dict, description="fixed query parameters (never credentials)")
    incremental_param: str | None = Field(
        default=None,
        description="query parameter that takes the window's low end (the watermark, or the data interval start)",
    )
    interval_end_param: str | None = Field(
        default=None, description="query parameter that takes the window's high end (interval loads), if any"
    )
    extra_column: str | None = Field(
        default="_extra",
        description="column that keeps, as JSON, the fields of a record no declared column takes; null drops them",
    )

    @field_validator("endpoint")
    @classmethod
    def _relative_endpoint(cls, value: str) -> str:
        # The host comes from the connection: an absolute URL here would send the connection's credentials elsewhere.
        if "://" in value or value.startswith("//"):
            raise ValueError(f"endpoint {value!r} must be a path; the host comes from the connection")
        return value


# Caps on what a source may send (docs/sources.md#caps-on-what-a-source-sends). Memory stays bounded by them: a REST
# page is read and parsed whole, a CSV block or a JSON line is held whole, and nesting is refused before a recursive
# parser or record walk meets it (CPython's recursion limit is 1000 frames, hence the ceiling of the depth cap).
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MAX_RESPONSE_BYTES_LIMIT = 2 * 1024 * 1024 * 1024
DEFAULT_MAX_JSON_DEPTH = 64
MAX_JSON_DEPTH_LIMIT = 500
DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES_LIMIT = 256 * 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024 * 1024


class CsvOptions(Frozen):
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote_char: str = Field(default='"', min_length=1, max_length=1)
    header: bool = Field(default=True, description="first line names the columns; false: columns in config order")
    encoding: str = Field(default="utf-8", description="text encoding of the file, e.g. utf-8, latin-1, cp1252")
    null_values: tuple[str, ...] = Field(default=("",), description="cell texts that mean NULL")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value


class SftpLocator(Frozen):
    kind: Literal["sftp"] = "sftp"
    remote_path: str = Field(min_length=1)
    file_pattern: str = Field(default="*", description="glob on file names, or re:<regex> for a regular expression")
    file_format: Literal["csv", "jsonl", "parquet"] = "csv"
    compression: Literal["none", "gzip", "auto"] = Field(default="auto", description="auto: gzip for .gz names")
    csv: CsvOptions = CsvOptions()
    archive_path: str | None = Field(
        default=None, description="after commit, move loaded files to this folder on the server (null: leave them)"
    )
    settle_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="look at the files twice this far apart; a file whose size or mtime changed waits for the next run",
    )
    max_record_bytes: int = Field(
        default=DEFAULT_MAX_RECORD_BYTES,
        ge=64 * 1024,
        le=MAX_RECORD_BYTES_LIMIT,
        description="longest CSV row or JSON Lines line: a longer one fails the run at once, without retries (CSV is "
        "read in blocks of this size, so memory grows with it)",
    )
    max_file_bytes: int = Field(
        default=DEFAULT_MAX_FILE_BYTES,
        ge=1024,
        description="largest file, counted after decompression (a gzip file by what it unpacks to): a larger one fails "
        "the run at once, without retries (a file listed larger is not even copied)",
    )
    max_json_depth: int = Field(
        default=DEFAULT_MAX_JSON_DEPTH,
        ge=2,
        le=MAX_JSON_DEPTH_LIMIT,
        description="jsonl: deepest nesting of arrays and objects in a line (the record itself is level 1); a deeper "
        "line is quarantined unparsed",
    )

    @field_validator("remote_path", "archive_path")
    @classmethod
    def _no_parent_segments(cls, value: str | None) -> str | None:
        if value is not None and ".." in value.replace("\\", "/").split("/"):
            raise ValueError(f"path {value!r} contains '..'")
        return value

    @field_validator("file_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        if value.startswith("re:"):
            try:
                re.compile(value[3:])
            except (re.error, RecursionError) as exc:  # RecursionError: groups nested hundreds deep
                raise ValueError(f"file_pattern regex does not compile: {exc}") from None
        return value


Locator = Annotated[SqlLocator | HttpLocator | SftpLocator, Field(discriminator="kind")]


class Landing(Frozen):
    conn_id: ConnId = "lake_wasb"
    container: str = Field(default="landing", pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
    format: Literal["parquet", "jsonl", "csv"] = "parquet"
    sensitive_container: str = Field(default="sensitive", pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")


# The broker setting transaction.max.timeout.ms at Kafka's default (15 min); the local stack's broker sets it to this
# explicitly. A producer asking for a longer transaction timeout fails init_transactions (INVALID_TRANSACTION_TIMEOUT),
# so configs are held to it when they are validated. A cluster configured higher still accepts every valid config.
BROKER_TRANSACTION_MAX_TIMEOUT_MS = 900_000
# The publisher aborts or commits shortly after its own deadline (the abort waits up to 10 s; reading the end offsets,
# sending the publish log and committing are quick but each bounded by 30 s). The broker must not abort the transaction
# first: it would fence the producer, and the attempt would end with a fencing error instead of its own clean one.
TRANSACTION_TIMEOUT_MARGIN_SECONDS = 60
DEFAULT_PUBLISH_TIMEOUT_SECONDS = 300
MAX_TOPIC_CHARS = 249  # Kafka's limit on a topic name (org.apache.kafka.common.internals.Topic)
MAX_PUBLISH_TIMEOUT_SECONDS = BROKER_TRANSACTION_MAX_TIMEOUT_MS // 1000 - TRANSACTION_TIMEOUT_MARGIN_SECONDS


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
        default=DEFAULT_PUBLISH_TIMEOUT_SECONDS,
        ge=10,
        # The bound is checked below, with a message that names the broker setting behind it.
        json_schema_extra={"maximum": MAX_PUBLISH_TIMEOUT_SECONDS},
        description="how long publish waits for the broker to acknowledge a run's messages before it aborts; its "
        f"Kafka transaction may stay open this long plus {TRANSACTION_TIMEOUT_MARGIN_SECONDS} s, which the broker's "
        f"transaction.max.timeout.ms ({BROKER_TRANSACTION_MAX_TIMEOUT_MS} ms by default) must allow",
    )

    @property
    def transaction_timeout_ms(self) -> int:
        """The producer's `transaction.timeout.ms` for a publish of this entity: its publish timeout and a margin, so
        the publish's own deadline fires first (librdkafka's default of 60 s fenced publishes that took longer)."""
        return (self.publish_timeout_seconds + TRANSACTION_TIMEOUT_MARGIN_SECONDS) * 1000

    @field_validator("publish_timeout_seconds")
    @classmethod
    def _within_broker_transaction_limit(cls, value: int) -> int:
        if value > MAX_PUBLISH_TIMEOUT_SECONDS:
            raise ValueError(
                f"publish_timeout_seconds is {value}, at most {MAX_PUBLISH_TIMEOUT_SECONDS} is allowed: a publish's "
                f"Kafka transaction stays open up to publish_timeout_seconds + {TRANSACTION_TIMEOUT_MARGIN_SECONDS} s, "
                "and the broker refuses transaction timeouts above its transaction.max.timeout.ms "
                f"({BROKER_TRANSACTION_MAX_TIMEOUT_MS} ms, Kafka's default)"
            )
        return value

    @field_validator("topic_template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = set(re.findall(r"{([^}]*)}", value)) - {"source", "entity"}
        if unknown:
            raise ValueError(f"topic_template may use {{source}} and {{entity}} only, not {sorted(unknown)}")
        # A lone or doubled brace passes the pattern above but breaks str.format, or leaves a brace in the topic.
        try:
            topic = value.format(source="s", entity="e")
        except (ValueError, IndexError, KeyError):
            topic = "{"
        if "{" in topic or "}" in topic:
            raise ValueError(f"topic_template {value!r} has a brace that is not part of {{source}} or {{entity}}")
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


class HttpOptions(Frozen):
    """How an http source is called: the same for every entity of the source."""

    requests_per_second: float = Field(
        default=10.0, gt=0, le=1000, description="request rate limit of each entity task of the source"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, le=600, description="per request")
    max_attempts: int = Field(default=6, ge=1, le=20, description="tries per request on 429, 5xx and connection errors")
    max_retry_wait_seconds: float = Field(
        default=120.0, gt=0, le=3600, description="longest wait between tries (also caps a 429's Retry-After)"
    )
    max_response_bytes: int = Field(
        default=DEFAULT_MAX_RESPONSE_BYTES,
        ge=1024,
        le=MAX_RESPONSE_BYTES_LIMIT,
        description="largest response body read, counted after decoding (a gzip body by what it unpacks to): a larger "
        "one fails the run at once, without retries, having read no more than this; a page is parsed whole, so memory "
        "grows with it (about 4x the body, bytes and parsed records)",
    )
    max_json_depth: int = Field(
        default=DEFAULT_MAX_JSON_DEPTH,
        ge=2,
        le=MAX_JSON_DEPTH_LIMIT,
        description="deepest nesting of arrays and objects a response may have (the body itself is level 1): a deeper "
        "one fails the run before it is parsed",
    )


class Alerts(Frozen):
    severity: Severity = Severity.HIGH
    channels: tuple[ConnId, ...] = ()
    escalate_after_minutes: int = Field(default=30, ge=1, le=MAX_MINUTES)
    on_retry: bool = Field(default=False, description="also alert each time a task fails and will be retried")
    long_run_factor: float = Field(
        default=3.0,
        ge=1.5,
        le=100,
        description="alert when a run's stages take this many times the median of the entity's last 10 runs",
    )
    routing: dict[Severity, tuple[ConnId, ...]] = Field(
        default_factory=dict,
        description="channels (connection ids) per severity, e.g. critical: Teams and e-mail, medium: Teams only; a "
        "severity not named goes to `channels`. Low severity always waits for the digest of its channels",
    )

    def channels_for(self, severity: str) -> tuple[str, ...]:
        """The channels an alert of `severity` goes to: its route, else `channels`."""
        return self.routing.get(Severity(severity), self.channels)


class Deadline(Frozen):
    expected_duration_minutes: int | None = Field(
        default=None, ge=1, le=MAX_MINUTES, description="alert when a run is still going this long after it was queued"
    )
    finish_by: str | None = Field(
        default=None,
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="HH:MM (UTC): alert when the day's run has not finished by then (first HH:MM at or after the run's "
        "scheduled time; needs a daily schedule)",
    )


class Retries(Frozen):
    count: int = Field(default=3, ge=0, le=20)
    delay_seconds: int = Field(default=60, ge=1, le=MAX_SECONDS)
    backoff_multiplier: float = Field(
        default=2.0, ge=1.0, le=10, description="each retry waits this much longer; 1 = fixed"
    )
    max_delay_minutes: int = Field(default=30, ge=1, le=MAX_MINUTES)


class Retention(Frozen):
    # How long landed partitions live, counted from the day in their `date=` folder (never a blob's last-modified
    # time). `ingest_retention` applies it (land/retention_plan.py, which reads these fields); whatever the periods,
    # it never touches a partition holding a run that is not committed, nor an entity's newest committed partition.

    raw_days: int = Field(
        default=30,
        ge=1,
        le=MAX_DAYS,
        description="days a partition of the landing container stays in the hot tier; older ones move to the "
        "archive tier (their manifests stay hot)",
    )
    archive_days: int = Field(
        default=365,
        ge=1,
        le=MAX_DAYS,
        description="days a partition of the landing container is kept at all; older ones are deleted (not before "
        "raw_days: an archive period not longer than raw_days deletes at raw_days, never archived)",
    )
    sensitive_days: int = Field(
        default=30,
        ge=1,
        le=MAX_DAYS,
        description="days a partition of the sensitive container (raw PII) is kept; older ones are deleted, never "
        "archived (and never kept longer than the landing partition of the same day)",
    )
    quarantine_days: int = Field(
        default=14,
        ge=1,
        le=MAX_DAYS,
        description="days a quarantine partition (rejected records as they arrived, in the sensitive container) is "
        "kept; older ones are deleted (never kept longer than the sensitive container's partitions)",
    )
    control_days: int = Field(
        default=400,
        ge=1,
        le=MAX_DAYS,
        description="days the control DB keeps an entity's run records, check results and processed-file entries; "
        "never fewer than the landing partitions are kept (their runs are known committed by these records). The "
        "entity's newest run, the run its watermark names and each file's latest entry are always kept",
    )


INTEGER_TYPES = frozenset({"smallint", "integer", "int", "bigint"})
_TIME_TYPES = frozenset({"timestamp", "timestamptz", "timestamp_ntz"})


class Entity(Frozen):
    name: Name
    description: str = ""
    locator: Locator
    primary_key: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    load: LoadMode = LoadMode()
    checks: tuple[Check, ...] = ()
    schema_drift: Literal["fail", "warn", "evolve"] = Field(
        default="fail",
        description="when the source's columns differ from the declared ones (new, missing, retyped): fail the "
        "run; warn and land the declared columns (missing ones as NULL); or evolve: land the source's columns as "
        "they are now (new columns where `undeclared` says) and warn",
    )
    undeclared: Literal["sensitive", "drop", "general"] = Field(
        default="sensitive",
        description="where data no column declares lands (a REST record's extra column, columns schema evolution "
        "adds): sensitive: raw, in the sensitive container only (beside the primary key), never in the general zone "
        "or Kafka; drop: nowhere; general: unmasked in the general zone and Kafka (an explicit opt-in, flagged in "
        "the runbook and `ingest docs`: only for sources known to send no personal data)",
    )
    landing: Landing | None = None
    kafka: Kafka | None = None
    alerts: Alerts | None = None

    @model_validator(mode="after")
    def _keys_are_columns(self) -> Entity:
        # Files are their own cursor (mtime and name); rows need a column to compare against the watermark.
        if self.load.mode != "full" and not self.load.cursor_column and self.locator.kind != "sftp":
            raise ValueError(f"load mode {self.load.mode!r} needs load.cursor_column for a {self.locator.kind} entity")
        names = [c.name for c in self.columns]
        if reserved := sorted(set(names) & {c.name for c in self.platform_columns}):
            raise ValueError(f"column(s) {reserved} are added by the platform for a {self.locator.kind} entity")
        if duplicates := _duplicates(names):
            raise ValueError(f"duplicate column names: {duplicates}")
        if self.columns:
            missing = [k for k in self.primary_key if k not in names]
            if missing:
                raise ValueError(f"primary_key {missing} not among the declared columns")
            # Caught here, not at the first run's query: the window and the watermark read this column.
            if self.load.cursor_column is not None and self.load.cursor_column not in names:
                raise ValueError(f"load.cursor_column {self.load.cursor_column!r} is not among the declared columns")
            if self.kafka and (missing := [k for k in self.kafka.key_columns if k not in names]):
                raise ValueError(f"kafka.key_columns {missing} not among the declared columns")
        self._pii_fits_keys_and_checks()
        self._lookback_fits_cursor()
        self._partitions_fit()
        if self.columns:
            for check in self.checks:
                if unknown := [c for c in check.columns if c not in names]:
                    raise ValueError(f"check {check.kind} names column(s) {unknown} not among the declared columns")
            self._checks_fit_column_types()
        return self

    def _checks_fit_column_types(self) -> None:
        types = {c.name: c.type for c in self.columns}
        for index, check in enumerate(self.checks):
            column = check.columns[0] if check.columns else None
            if check.kind == "freshness" and column is None:
                column = self.load.cursor_column  # freshness without a column measures the cursor
            if column in types and (problem := bound_problem(check.kind, check.params, column, types[column])):
                raise ValueError(f"checks[{index}]: {problem}")

    @property
    def platform_columns(self) -> tuple[Column, ...]:
        """Columns the platform lands beside the declared ones: the rest of a REST record (JSON), the name of the file
        a row came from."""
        if self.locator.kind == "http" and self.locator.extra_column:
            return (Column(name=self.locator.extra_column, type="json"),)
        if self.locator.kind == "sftp":
            return (Column(name=SOURCE_FILE_COLUMN, type="string", nullable=False),)
        return ()

    def _lookback_fits_cursor(self) -> None:
        """A lookback is in the cursor's unit: minutes below a timestamp, ids below an integer. Checked where the
        cursor column is declared (extract_land refuses a mismatch it finds in the values)."""
        load = self.load
        cursor = next((c for c in self.columns if c.name == load.cursor_column), None)
        if cursor is None or not (load.lookback_minutes or load.lookback_ids):
            return
        kind = cursor.type.strip().lower()
        if kind in INTEGER_TYPES and load.lookback_minutes:
            raise ValueError(f"cursor column {cursor.name!r} is {kind}: use load.lookback_ids, not lookback_minutes")
        if kind in _TIME_TYPES and load.lookback_ids:
            raise ValueError(f"cursor column {cursor.name!r} is {kind}: use load.lookback_minutes, not lookback_ids")
        if kind not in INTEGER_TYPES | _TIME_TYPES:
            raise ValueError(f"a lookback needs a timestamp or integer cursor; {cursor.name!r} is {kind}")

    def _partitions_fit(self) -> None:
        partitions = self.load.partitions
        if partitions is None:
            return
        if self.locator.kind != "sql":
            raise ValueError(f"load.partitions is for sql entities; a {self.locator.kind} entity is read in one task")
        if partitions.ranges and partitions.column is None:
            raise ValueError("load.partitions.ranges needs load.partitions.column: ranges of which column's values")
        if partitions.column is None:
            if not self.primary_key:
                raise ValueError(
                    "load.partitions without a column splits rows by a hash of the primary_key: declare one"
                )
            return
        column = next((c for c in self.columns if c.name == partitions.column), None)
        if column is None:
            raise ValueError(f"load.partitions.column {partitions.column!r} is not among the declared columns")
        if column.type.strip().lower() not in INTEGER_TYPES:
            raise ValueError(
                f"load.partitions.column {partitions.column!r} is {column.type}: it needs an integer column (or none, "
                "for a hash of the primary_key)"
            )
        if partitions.ranges and column.pii:
            # The cut points are spread between the column's min and max, and are stored and logged as they are.
            raise ValueError(
                f"load.partitions.column {partitions.column!r} is PII: ranges would store cut points of its values "
                "beside the landing; split by the column's modulo or a hash of the key instead (ranges: false)"
            )
        if partitions.column not in self.primary_key:
            # A value that changes between two partitions' reads would move its row from one share to the other:
            # read twice, or not at all. A key column does not change.
            raise ValueError(
                f"load.partitions.column {partitions.column!r} is not in the primary_key: a row's share must not "
                "change while the partitions read"
            )

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
            # Values are checked as landed; a masked value says nothing about ranges, sets or patterns.
            if check.kind in ("accepted_values", "range", "regex", "freshness") and (
                masked := sorted(set(strategies).intersection(check.columns))
            ):
                raise ValueError(f"check {check.kind} cannot check masked column(s) {masked}: it sees masked values")


class SourceConfig(Frozen):
    schema_ref: str | None = Field(default=None, alias="$schema")
    name: Name
    description: str = ""
    owners: Owners
    schedule: str | None = Field(default="@daily", description="cron expression, preset like @daily, or null")
    start_date: datetime
    catchup: bool = False
    tags: tuple[Annotated[str, Field(max_length=MAX_TAG_CHARS)], ...] = ()
    kind: SourceKind
    conn_id: ConnId
    source_timezone: str = Field(
        default="UTC",
        description="sql sources: the IANA time zone (e.g. Europe/Berlin) the source writes zone-less timestamps in "
        "(MySQL DATETIME, Postgres timestamp without time zone); they land as UTC instants and windows compare "
        "them as wall-clock times of this zone",
    )
    landing: Landing = Landing()
    kafka: Kafka = Kafka()
    alerts: Alerts = Alerts()
    deadline: Deadline = Deadline()
    retention: Retention = Retention()
    retries: Retries = Retries()
    pii: PiiKeys = PiiKeys()
    http: HttpOptions = HttpOptions()
    entities: tuple[Entity, ...] = Field(min_length=1)

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        if value is None or value.startswith("@"):
            if value is not None and value not in SCHEDULE_PRESETS:
                raise ValueError(f"unknown schedule preset {value!r}; use one of {sorted(SCHEDULE_PRESETS)} or a cron")
            return value
        if len(value.split()) != CRON_FIELDS or not _cron_is_valid(value):
            # Five fields only: croniter also takes a sixth, as seconds, so a Quartz habit ("0 0 2 * * *", meant as
            # 02:00 daily) would schedule a run every second.
            raise ValueError(
                f"{value!r} is not a valid cron expression (five fields: minute hour day-of-month month day-of-week)"
            )
        if not _cron_fires(value):
            raise ValueError(f"cron {value!r} never fires (a day that no month has?)")
        return value

    @field_validator("source_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value == "UTC":
            return value
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file path
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin, or UTC") from None
        return value

    @model_validator(mode="after")
    def _zone_is_for_sql_sources(self) -> SourceConfig:
        # REST and file sources read zone-less timestamp text as UTC (extract/record_typing.py): a zone here would
        # be silently ignored.
        if self.source_timezone != "UTC" and self.kind != SourceKind.SQL:
            raise ValueError(
                f"source_timezone applies to sql sources; a {self.kind.value} source reads zone-less timestamps as UTC"
            )
        return self

    @model_validator(mode="after")
    def _continuous_runs_one_at_a_time(self) -> SourceConfig:
        # Airflow's ContinuousTimetable allows one active run, and a source with an incremental entity gets several
        # (a run may wait for the previous run's commit: ingestion.planner.max_active_runs).
        if self.schedule == "@continuous" and (
            incremental := [e.name for e in self.entities if e.load.mode == "incremental"]
        ):
            raise ValueError(
                f"schedule @continuous allows one active run, and incremental entities {incremental} need several (a "
                "run may wait for the previous run's commit): use a cron or preset schedule"
            )
        return self

    @model_validator(mode="after")
    def _sensitive_data_lands_apart(self) -> SourceConfig:
        # Raw PII (pii_strategy sensitive, undeclared data, quarantine) goes to sensitive_container so that it never
        # sits in the general one, whose readers and retention are others'. One container for both defeats that.
        # Checked on the landing each entity gets: the source's, with the fields its own `landing` sets on top.
        spots = [("$.landing", self.landing)]
        for index, entity in enumerate(self.entities):
            if entity.landing is not None:
                update = entity.landing.model_dump(exclude_unset=True)
                spots.append((f"$.entities[{index}].landing", self.landing.model_copy(update=update)))
        for path, landing in spots:
            if landing.container == landing.sensitive_container:
                raise ValueError(
                    f"{path}.container and {path}.sensitive_container are both {landing.container!r}: raw PII would "
                    "land in the general container; give the sensitive data a container of its own"
                )
        return self

    @model_validator(mode="after")
    def _finish_by_needs_a_daily_schedule(self) -> SourceConfig:
        if self.deadline.finish_by and daily_run_time(self.schedule) is None:
            raise ValueError(
                f"deadline.finish_by needs a schedule that runs once a day at a fixed time ('M H * * *' or @daily), "
                f"not {self.schedule!r}; use deadline.expected_duration_minutes instead"
            )
        return self

    @model_validator(mode="after")
    def _entities_fit_source(self) -> SourceConfig:
        if duplicates := _duplicates([e.name for e in self.entities]):
            raise ValueError(f"duplicate entity names: {duplicates}")
        for entity in self.entities:
            if entity.locator.kind != self.kind.value:
                raise ValueError(
                    f"entity {entity.name!r} has a {entity.locator.kind} locator but the source kind is {self.kind}"
                )
            self._topic_is_one_kafka_accepts(entity)
        return self

    def _topic_is_one_kafka_accepts(self, entity: Entity) -> None:
        # The template's pattern keeps to Kafka's characters; the length and the names . and .. are only known once
        # it is filled in, and Kafka refuses them when the first publish creates the topic.
        topic = entity_topic(self, entity)
        if len(topic) > MAX_TOPIC_CHARS:
            raise ValueError(
                f"entity {entity.name!r}: its topic is {len(topic)} characters; Kafka allows at most {MAX_TOPIC_CHARS} "
                "(shorten kafka.topic_template)"
            )
        if topic in (".", ".."):
            raise ValueError(f"entity {entity.name!r}: its topic {topic!r} is a name Kafka refuses")


_DAILY_CRON = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")


def daily_run_time(schedule: str | None) -> tuple[int, int] | None:
    """(hour, minute) of a schedule that runs once a day at a fixed time, else None."""
    if schedule == "@daily":
        return 0, 0
    match = _DAILY_CRON.match(schedule or "")
    if match is None or int(match[2]) > 23 or int(match[1]) > 59:
        return None
    return int(match[2]), int(match[1])


@functools.lru_cache(maxsize=1024)
def _cron_is_valid(expression: str) -> bool:
    # Cached: many sources share a handful of schedules, and croniter's parser costs ~0.2 ms a call.
    from croniter import croniter

    return bool(croniter.is_valid(expression))


@functools.lru_cache(maxsize=1024)
def _cron_fires(expression: str) -> bool:
    # Well-formed but never due (0 0 31 2 *): the DAG's runbook and timetable ask for its next runs, and croniter
    # raises there, while the DAG folder is parsed.
    from croniter import CroniterError, croniter

    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterError:
        return False
    return True


def _duplicates(names: list[str]) -> list[str]:
    if len(set(names)) == len(names):  # the common case, without the quadratic count
        return []
    return sorted({n for n in names if names.count(n) > 1})


_UNSAFE_IDENTIFIER_CHARS = frozenset("\"'`;\\")


def _reject_unsafe_identifier(value: str) -> None:
    # Identifiers are quoted for the dialect at extract time; quotes, semicolons and comments are refused here
    # so that a config can never smuggle SQL, whatever the quoting does.
    # Plain string checks, not a regex: this runs for every identifier of every config on every parse.
    if not _UNSAFE_IDENTIFIER_CHARS.isdisjoint(value) or "--" in value or "/*" in value:
        raise ValueError(f"identifier {value!r} contains a quote, semicolon, backslash or comment marker")


def entity_kafka(config: SourceConfig, entity: Entity) -> Kafka:
    """The entity's Kafka settings: the source's, with the fields the entity's own `kafka` sets overriding them."""
    if entity.kafka is None:
        return config.kafka
    return config.kafka.model_copy(update=entity.kafka.model_dump(exclude_unset=True))


def entity_topic(config: SourceConfig, entity: Entity) -> str:
    return entity_kafka(config, entity).topic_template.format(source=config.name, entity=entity.name)


def topic_template_path(entity: Entity, index: int) -> str:
    """The JSON path of the topic_template that names the entity's topic, for error messages."""
    if entity.kafka is not None and "topic_template" in entity.kafka.model_fields_set:
        return f"$.entities[{index}].kafka.topic_template"
    return "$.kafka.topic_template"
