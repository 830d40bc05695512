"""The pipeline's runbook, generated from its config: the DAG's `doc_md`, and what alerts link to. Pure.

Written for the person on call who has never seen this source: what it is, who owns it, when it should have
finished, what each entity holds (with PII flags), where the data lands, and what to do about common failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ingestion.schedule_text import refresh_frequency

if TYPE_CHECKING:
    from ingestion.config.models import Retention
    from ingestion.config.oncall import Rotation
    from ingestion.planner import DagPlan, EntityPlan

_LOAD_MODES = {
    "full": "full reload every run",
    "incremental": "incremental on `{cursor}`: from the watermark, inclusive, {high}{ties}{lookback}",
    "interval": "interval: rows whose `{cursor}` falls in the run's data interval",
}
# Upper bound of an incremental window, per cursor type (see extract/window.py).
_HIGH = {
    "timestamp": "up to min(max `{cursor}` at the start, now - {margin} s) (the margin leaves rows still committing "
    "for the next run)",
    "integer": "up to the largest `{cursor}` at the start (no time margin for ids: a row committed late with a lower "
    "id is read only within the lookback in ids)",
    "other": "up to the largest `{cursor}` at the start",
    "http": "up to the largest `{cursor}` the API returns (its incremental parameter must be inclusive: at or after)",
}
_TIES = {
    True: "; rows at the watermark's value that the previous run landed are left out by primary key, so rows committed "
    "later with that value are read, not lost (after a manual `watermark set` they are read and sent again)",
    False: "; no primary key: rows at the watermark's value are read and sent again each run",
}
_LOOKBACK = {
    "timestamp": "; re-reads (and re-sends, ties with the watermark included) {n} min below the watermark for late "
    "rows",
    "integer": "; re-reads (and re-sends, ties with the watermark included) {n} ids below the watermark for rows "
    "committed late with lower ids",
}
_SFTP_INCREMENTAL = "incremental: new or changed files (by modification time and name)"


_UNDECLARED = {
    "sensitive": "sensitive only",
    "drop": "dropped",
    # Loud on purpose: the one setting that lets unclassified data reach the general zone and Kafka.
    "general": "**UNMASKED in the general zone and Kafka (opt-in)**",
}


def undeclared_data_note(policy: str) -> str:
    """Where an entity's undeclared data (REST extra fields, evolved columns) lands, for the runbook and the docs."""
    return _UNDECLARED[policy]


def _runs_line(max_active_runs: int) -> str:
    if max_active_runs == 1:
        return "- Runs one at a time"
    return (
        f"- Up to {max_active_runs} runs at once, so that an earlier run cleared to retry its `commit` can start "
        "while a later one waits for it; a cursor entity's `extract_land` waits until the previous run's `commit` "
        "succeeded, and an entity publishes one run at a time"
    )


def _retention_line(retention: Retention) -> str:
    """The periods the `ingest_retention` DAG applies, as it applies them (docs/loads.md#the-intermediate-layer)."""
    from ingestion.land.retention_plan import Zone, control_period, periods_for

    landing = periods_for(retention, Zone.LANDING)
    sensitive = periods_for(retention, Zone.SENSITIVE).delete_after_days
    quarantine = periods_for(retention, Zone.QUARANTINE).delete_after_days
    archived = f"archived after {landing.archive_after_days} days, " if landing.archive_after_days is not None else ""
    return (
        f"- Retention (the daily `ingest_retention` DAG, by the `date=` folder): landing data {archived}deleted after "
        f"{landing.delete_after_days} days; sensitive container after {sensitive} days; quarantine after {quarantine} "
        f"days; control DB run records after {control_period(retention)} days"
    )


def markdown_cell(value: object) -> str:
    """Text made safe for one cell of a Markdown table."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _locator(plan: EntityPlan) -> str:
    locator = plan.entity.locator
    if locator.kind == "sql":
        if locator.table:
            return f"table `{locator.schema_name + '.' if locator.schema_name else ''}{locator.table}`"
        return "a custom query (see the config)"
    if locator.kind == "http":
        style = locator.pagination.style
        return f"endpoint `{locator.endpoint}`, records at `{locator.record_path}`, {style} pagination"
    compression = "" if locator.compression == "none" else f", compression {locator.compression}"
    return f"files `{locator.remote_path}/{locator.file_pattern}` ({locator.file_format}{compression})"


def _load_mode(plan: EntityPlan) -> str:
    entity = plan.entity
    load = entity.load
    if load.mode == "incremental" and entity.locator.kind == "sftp":
        return _SFTP_INCREMENTAL
    if load.mode != "incremental":
        return _LOAD_MODES[load.mode].format(cursor=load.cursor_column) + _zone_note(plan) + _partitions_note(plan)
    declared = next((c.type.strip().lower() for c in entity.columns if c.name == load.cursor_column), "")
    kind = "integer" if declared in _INTEGER_CURSORS else "timestamp" if declared in _TIMESTAMP_CURSORS else "other"
    if kind == "other" and load.lookback_minutes:
        kind = "timestamp"  # an undeclared cursor: what its lookback says it is
    lookback = load.lookback_ids if kind == "integer" else load.lookback_minutes
    high = _HIGH["http" if entity.locator.kind == "http" else kind]
    text = _LOAD_MODES["incremental"].format(
        cursor=load.cursor_column,
        high=high.format(cursor=load.cursor_column, margin=load.safety_margin_seconds),
        # A lookback re-sends what it re-reads, the rows at the watermark's value included.
        ties="" if lookback else _TIES[bool(entity.primary_key)],
        lookback=_LOOKBACK[kind].format(n=lookback) if lookback and kind in _LOOKBACK else "",
    )
    return text + _zone_note(plan) + _partitions_note(plan)


def _partitions_note(plan: EntityPlan) -> str:
    partitions = plan.entity.load.partitions
    if partitions is None:
        return ""
    if partitions.column is None:
        by = "a hash of the primary key"
    elif partitions.ranges:
        by = f"ranges of `{partitions.column}` cut once per run"
    else:
        by = f"`{partitions.column}` modulo {partitions.count}"
    window = (
        "; the run's window is fixed by the first partition to start, and after a `watermark set` clear every "
        "partition's extract_land, not one"
        if plan.entity.load.mode == "incremental"
        else ""
    )
    return (
        f"; read and published in {partitions.count} partitions side by side (extract_land and publish map indexes "
        f"0-{partitions.count - 1}, by {by}): a failed partition is retried or cleared alone{window}"
    )


_INTEGER_CURSORS = frozenset({"smallint", "integer", "int", "bigint"})
_TIMESTAMP_CURSORS = frozenset({"timestamp", "timestamptz", "timestamp_ntz"})


def _zone_note(plan: EntityPlan) -> str:
    if plan.entity.locator.kind != "sql":
        return ""
    return f"; timestamps without a zone (MySQL DATETIME, Postgres `timestamp`) are read as {plan.source_timezone} time"


def _entity_section(plan: EntityPlan) -> list[str]:
    entity = plan.entity
    lines = [
        f"### {entity.name}",
        "",
        entity.description or "_No description in the config._",
        "",
        f"- Source: {_locator(plan)}",
        f"- Load: {_load_mode(plan)}",
        f"- Primary key: {', '.join(f'`{k}`' for k in entity.primary_key) or '_none declared_'}",
        f"- Landing: `{plan.landing_path_pattern}` ({plan.landing.format}, through connection "
        f"`{plan.landing.conn_id}`), `_manifest.json` written last",
        f"- Kafka topic: `{plan.topic}` (key: {', '.join(plan.key_columns) or 'none'}; "
        f"connection `{plan.kafka.conn_id}`)",
    ]
    if plan.sensitive_columns:
        lines.append(
            f"- Raw values of {', '.join(f'`{c}`' for c in plan.sensitive_columns)} go to the "
            f"`{plan.landing.sensitive_container}` container only"
        )
    lines.append(
        f"- Data no column declares (REST fields no column takes, columns schema evolution adds): "
        f"{undeclared_data_note(entity.undeclared)}"
        + (f" (`{plan.landing.sensitive_container}` container)" if entity.undeclared == "sensitive" else "")
    )
    if entity.checks:
        checks = "; ".join(
            f"{c.kind}{'(' + ', '.join(c.columns) + ')' if c.columns else ''} [{c.severity}]" for c in entity.checks
        )
        lines.append(f"- Checks: {checks}")
    if entity.columns:
        lines += ["", "| column | type | nullable | PII | description |", "|---|---|---|---|---|"]
        for column in entity.columns:
            pii = f"yes: {column.pii_strategy.value}" if column.pii and column.pii_strategy else "no"
            lines.append(
                f"| `{column.name}` | {markdown_cell(column.type)} | {'yes' if column.nullable else 'no'} | {pii} "
                f"| {markdown_cell(column.description)} |"
            )
    else:
        lines += ["", "_No columns declared: the landed schema is whatever the source returns._"]
    return [*lines, ""]


def _common_failures(plan: DagPlan) -> list[str]:
    config = plan.config
    return [
        "## Common failures and what to do",
        "",
        "| symptom | likely cause | what to do |",
        "|---|---|---|",
        f"| `extract_land` fails at once with an authentication or 4xx error | credentials of connection "
        f"`{config.conn_id}` expired or revoked | fix the connection in Admin > Connections (never in the config), "
        "then clear the failed task |",
        f"| `extract_land` retries, then fails, on timeouts or 5xx | `{config.name}` is down or overloaded | check "
        "the source's status with its owners; the task retries with exponential backoff, clear it once the source "
        "is back |",
        "| `validate` fails | an `error` check failed or the landed schema drifted | read the check results in the "
        "task log; fix the data upstream, or change the check's severity in the config if the rule is wrong. "
        "Nothing was published and the watermark did not move, so clearing the task after the fix is safe |",
        "| `publish` fails | Kafka unreachable or the topic missing | the publish is transactional: an aborted "
        "attempt is invisible to read_committed consumers; clear the task once Kafka is back |",
        "| `validate` fails `late_rows` | rows were committed into the run's window after it was read | clear "
        "the entity's tasks from `extract_land` (the window is read again); widen `load.safety_margin_seconds` or "
        "add a lookback so later runs catch such rows |",
        "| `validate` fails on reconciliation (source vs landed) | rows lost between the source and the lake | "
        "nothing was published: clear the entity's tasks from `extract_land`; the run lands its window again "
        "over its own files (never duplicated) |",
        "| `publish` fails: the broker holds more new messages than landed | another producer wrote to the topic "
        "during the publish | the attempt was aborted (invisible to read_committed); find the other writer (a "
        "topic has one), then clear `publish` |",
        "| `publish` refuses: the watermark moved since the run landed | a manual `watermark set`/`reset` during "
        "the run | nothing was published; clear the entity's tasks from `extract_land` to land from the new "
        "watermark |",
        "| `commit` fails | control database unreachable | the watermark did not move; clear `commit` once "
        "the database is back. Once `publish` has begun, a run is frozen: clearing from `extract_land` re-uses "
        "its landing (same files, same window) and never reads the source again |",
        "| `commit` fails: the watermark was moved since the run read it | a manual `watermark set`/`reset` "
        "after the run began | the run's rows are in Kafka already; the error names the exact `scripts/ingest "
        "watermark set` that puts the watermark back, then clear only `commit` |",
        "| deadline missed | source slow, or the run waits behind a failed earlier one (a cursor entity waits for "
        "its commit; a source without one runs one run at a time) | look for a failed earlier run of this DAG "
        "first |",
        "| a cursor entity's `extract_land` stays without a state, or `up_for_reschedule` | it waits for the "
        "previous run's `commit` to succeed (it would otherwise read that run's rows again); scheduled runs wait "
        "in Airflow, manual ones look again every 30 s, naming the run in their log | fix and clear the previous "
        "run's failed task; the waiting run then goes on by itself. Marking that `commit` success by hand does not "
        "release it: only a commit does |",
        "| a cursor entity's `publish` is `up_for_reschedule`, then skipped with `commit` | another run read the "
        "same window side by side (a manual trigger beside a scheduled run): this one waits for that run's commit, "
        "then is superseded, so no row is sent twice | nothing to do and nothing lost: the next run reads on from "
        "the live watermark; trigger one to have its rows now. If the run it waits for (named in its log) is stuck, "
        "fix and clear that run as for a waiting `extract_land` |",
        "| zero rows | nothing changed at the source, or the window is wrong | compare the entity's watermark "
        "in the control database with the source's newest rows |",
        *_record_source_failures(plan),
        "",
        "Re-load a window: `airflow backfill create --dag-id "
        f"{plan.dag_id} --from-date <start> --to-date <end>` (interval entities); for a cursor entity, trigger "
        'the DAG with the run conf `{"full_refresh": true}` or reset its watermark with a reason.',
        "",
    ]


def _record_source_failures(plan: DagPlan) -> list[str]:
    """REST and file sources type records on the way in; the ones that do not fit go to a quarantine file."""
    kind = plan.config.kind.value
    if kind == "sql":
        return []
    rows = [
        f"| `validate` warns `quarantine` | records did not fit the declared columns (missing required field, wrong "
        f"type, malformed row) | read `{plan.config.landing.sensitive_container}/<source>/<entity>/_quarantine/...` "
        "(named in the warning): fix the source or the config; the quarantined records were not loaded and load "
        "only when the source sends them again |",
    ]
    if kind == "sftp":
        rows.append(
            "| a file is not loaded | still being written (`files_waiting` in the manifest), a name with a path "
            "separator or control character (`files_refused`), or loaded before with the same mtime | wait a run, "
            'rename it on the server, or trigger with `{"full_refresh": true}` to load every matching file |'
        )
    return rows


_SEVERITY_ORDER = ("critical", "high", "medium", "low")


def _routing_lines(routing: dict[Any, tuple[str, ...]]) -> list[str]:
    """The routes by severity, most severe first; none when every severity goes to the alert channels."""
    if not routing:
        return []
    ordered = sorted(routing.items(), key=lambda item: _SEVERITY_ORDER.index(str(item[0])))
    return [
        "- Routing by severity (a severity not named goes to the channels above; low waits for the digest):",
        *(f"  - {severity}: " + (", ".join(f"`{c}`" for c in route) or "no channel") for severity, route in ordered),
    ]


def _oncall_lines(rotation: Rotation | None) -> list[str]:
    """The team's rotation, its overrides and the lead; who is on call now is `scripts/ingest oncall` (a runbook is
    rendered when the DAG is parsed, so it cannot say who is on call at the time it is read)."""
    if rotation is None:
        return ["- On call: no rotation for this team in `_oncall.json`: alerts go to the owners above"]
    handover = f"{rotation.handover.weekday.capitalize()} {rotation.handover.time} UTC"
    lines = [
        f"- On call: weekly rotation of {', '.join(rotation.members)} (in that order, hand-over {handover}, from "
        f"{rotation.start:%Y-%m-%d}); the next in line is the backup. Alerts name and mail the engineer on call at "
        f"the time of the alert; `scripts/ingest oncall [--at TIME]` says who that is",
        f"- Team lead: {rotation.lead}: critical incidents (data loss suspected: a reconciliation failure, a publish "
        "aborted for a count mismatch, a watermark conflict) reach them at once",
    ]
    lines += [
        f"  - override {o.start:%Y-%m-%d %H:%M} to {o.end:%Y-%m-%d %H:%M} UTC: {o.primary}, backup {o.secondary}"
        + (f" ({o.reason})" if o.reason else "")
        for o in rotation.overrides
    ]
    return lines


def oncall_inventory(plans: list[DagPlan], teams: dict[str, Rotation]) -> list[str]:
    """Markdown lines for `ingest docs`: per source, its team's rotation, lead and overrides, the escalation delay and
    where each severity's alerts go."""

    def routes(plan: DagPlan) -> str:
        alerts = plan.config.alerts
        default = ", ".join(f"`{c}`" for c in alerts.channels) or "none"
        named = [
            f"{severity}: " + (", ".join(f"`{c}`" for c in route) or "none")
            for severity, route in sorted(alerts.routing.items(), key=lambda i: _SEVERITY_ORDER.index(str(i[0])))
        ]
        return "; ".join([*named, f"otherwise: {default}"]) if named else f"every severity: {default}"

    lines = [
        "",
        "## On call, escalation and alert routing",
        "",
        "| source | team | rotation (weekly hand-over, UTC) | lead | overrides | escalation | alerts go to |",
        "|---|---|---|---|---|---|---|",
    ]
    for plan in plans:
        team = plan.config.owners.team
        rotation = teams.get(team)
        if rotation is None:
            rotation_cell, lead, overrides = "none: the owners get the alerts", "-", "-"
        else:
            handover = f"{rotation.handover.weekday} {rotation.handover.time}"
            rotation_cell = f"{', '.join(rotation.members)} ({handover}, from {rotation.start:%Y-%m-%d})"
            lead = rotation.lead
            overrides = (
                "; ".join(
                    f"{o.start:%Y-%m-%d %H:%M} to {o.end:%Y-%m-%d %H:%M}: {o.primary}, {o.secondary}"
                    for o in rotation.overrides
                )
                or "-"
            )
        escalation = (
            f"after {plan.config.alerts.escalate_after_minutes} min to the "
            f"{'backup on call' if rotation else 'secondary owner'}; data loss suspected: critical, "
            f"{'to the lead ' if rotation else ''}at once"
        )
        lines.append(
            f"| {plan.config.name} | {team} | {rotation_cell} | {lead} | {overrides} | {escalation} | {routes(plan)} |"
        )
    return lines


def render_runbook(plan: DagPlan, rotation: Rotation | None = None) -> str:
    """Markdown for the DAG's doc_md, with the owning team's on-call `rotation` if it has one. Ends with a newline:
    Airflow reads a doc_md ending in `.md` as a file path."""
    config = plan.config
    owners = config.owners
    deadline = config.deadline
    alerts = config.alerts
    deadline_lines = []
    if deadline.expected_duration_minutes:
        deadline_lines.append(f"- Expected to finish within {deadline.expected_duration_minutes} min of its start")
    if deadline.finish_by:
        deadline_lines.append(f"- Must have finished by {deadline.finish_by} UTC")
    retry = plan.retry
    channels = ", ".join(f"`{c}`" for c in alerts.channels) or "no channel"
    backoff = (
        f", growing x{retry.backoff_multiplier:g} up to {int(retry.max_retry_delay.total_seconds()) // 60} min"
        if retry.backoff_multiplier
        else ""
    )
    lines = [
        f"# {plan.dag_id}: runbook",
        "",
        config.description or f"Ingestion of the source `{config.name}`.",
        "",
        f"Source kind **{config.kind.value}**, connection `{config.conn_id}`, environment `{plan.env}`. "
        f"Generated from `{config.name}.json`: edit the config, not this page.",
        "",
        "## Owners and escalation",
        "",
        f"- Team: **{owners.team}**" + (f" ({owners.contact})" if owners.contact else ""),
        f"- Primary owner: {owners.primary}",
        f"- Secondary owner: {owners.secondary or '_none named_'}",
        f"- Alerts: severity **{alerts.severity.value}** to {channels}",
        *_routing_lines(alerts.routing),
        *_oncall_lines(rotation),
        f"- Escalation: still failing {alerts.escalate_after_minutes} min after the first alert with no success "
        f"since, the alert is repeated at a higher severity naming "
        f"{'the backup on call' if rotation else owners.secondary or 'the team'}; "
        f"after that, contact {owners.team}" + (f" at {owners.contact}" if owners.contact else "") + ".",
        "",
        "## Schedule and deadline",
        "",
        f"- Schedule: {refresh_frequency(config.schedule)}" + (f" (`{config.schedule}`)" if config.schedule else ""),
        f"- Start date: {plan.start_date:%Y-%m-%d %H:%M} UTC, catchup {'on' if config.catchup else 'off'}",
        _runs_line(plan.max_active_runs),
        f"- Retries: {retry.retries}, first after {int(retry.retry_delay.total_seconds())} s{backoff}",
        *(deadline_lines or ["- No deadline configured"]),
        _retention_line(config.retention),
        "",
        "## Entities",
        "",
        "Each entity runs `extract_land` -> `validate` -> `publish` -> `commit` in its own task group.",
        "",
    ]
    for entity in plan.entities:
        lines += _entity_section(entity)
    lines += _common_failures(plan)
    return "\n".join(lines)
