"""`python -m ingestion` (or `scripts/ingest`): validate, list, show, schema, docs and infra-vars for the source
configs, and watermark show / history / set / reset, status and db upgrade / current against the control database, and
access show / sync for the team roles in Airflow's FAB auth manager; oncall prints who is on call for each team.

The config commands are pure (no Airflow import), so they run in CI and pre-commit in well under a second; the
watermark commands import Airflow only to resolve the control DB connection. They never guess the control DB: with
none configured (`--db-url`, `INGEST_CONTROL_DB_URL`, the Airflow connection) they exit 2 saying where they looked.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.config.loader import ENV_VAR, LoadResult, current_env, env_without_overlay, load_configs
from ingestion.config.schema import oncall_schema_path, render_oncall_schema, render_schema, schema_path
from ingestion.errors import InfraVarsError, InvalidSourceConfigError, UnknownSourceError
from ingestion.infra_vars import INFRA_VARS_PATH, render_infra_vars
from ingestion.paths import config_dir as default_config_dir
from ingestion.plan_loader import load_entity_plan
from ingestion.planner import DagPlan, plan_source
from ingestion.runbook import markdown_cell, oncall_inventory, render_runbook, undeclared_data_note
from ingestion.schedule_text import refresh_frequency
from ingestion.state import watermark_values

if TYPE_CHECKING:
    from ingestion.config.models import Entity


def _load(args: argparse.Namespace) -> LoadResult:
    return load_configs(Path(args.config_dir), args.env)


def _known_sources(args: argparse.Namespace) -> list[str]:
    return sorted(p.stem for p in Path(args.config_dir).glob("*.json") if not p.name.startswith("_"))


def _no_such_source(args: argparse.Namespace) -> str:
    """What every command says of a --source (or source argument) with no config: the typo and the names there are."""
    return f"no source {args.source!r}; known: {', '.join(_known_sources(args)) or '(none)'}"


def _plans(result: LoadResult) -> list[DagPlan]:
    return [plan_source(config, result.env) for config in result.configs.values()]


def _oncall_or_none(args: argparse.Namespace) -> Any:
    """The folder's rotations, or None (said on stderr) when `_oncall.json` is invalid."""
    from ingestion.config.oncall import load_oncall

    try:
        return load_oncall(Path(args.config_dir))
    except InvalidSourceConfigError as error:
        print(f"on-call rotations left out: {error}", file=sys.stderr)
        return None


def _oncall_errors(args: argparse.Namespace) -> list[Any]:
    """What is wrong with the folder's `_oncall.json` (nothing when it is valid or missing)."""
    from ingestion.config.oncall import load_oncall

    try:
        load_oncall(Path(args.config_dir))
    except InvalidSourceConfigError as error:
        return error.errors
    return []


def cmd_validate(args: argparse.Namespace) -> int:
    result = _load(args)
    plans = _plans(result)
    for plan in plans:
        render_runbook(plan)  # a config that cannot be documented is not valid
    errors = [*result.errors, *_oncall_errors(args)]
    if errors:
        files = {e.file for e in errors}
        print(f"{len(errors)} error(s) in {len(files)} file(s) (env {result.env}):", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        print(f"{len(plans)} other source(s) are valid: {', '.join(p.config.name for p in plans) or '-'}")
        return 1
    print(f"ok: {len(plans)} source(s) valid in env {result.env}: {', '.join(p.config.name for p in plans)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    result = _load(args)
    rows = [
        {
            "source": plan.config.name,
            "dag_id": plan.dag_id,
            "kind": plan.config.kind.value,
            "schedule": plan.config.schedule or "-",
            "entities": ",".join(e.entity.name for e in plan.entities),
            "team": plan.config.owners.team,
        }
        for plan in _plans(result)
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        headers = list(rows[0]) if rows else ["source"]
        widths = {h: max([len(h), *(len(r[h]) for r in rows)]) for h in headers}
        print("  ".join(h.ljust(widths[h]) for h in headers))
        for row in rows:
            print("  ".join(row[h].ljust(widths[h]) for h in headers))
    for error in result.errors:
        print(f"invalid: {error}", file=sys.stderr)
    return 1 if result.errors else 0


def cmd_show(args: argparse.Namespace) -> int:
    result = load_configs(Path(args.config_dir), args.env, only=args.source)
    if result.errors:
        for error in result.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    config = result.configs.get(args.source)
    if config is None:
        print(_no_such_source(args), file=sys.stderr)
        return 2
    merged = config.model_dump(mode="json", by_alias=True, exclude={"schema_ref"})
    print(json.dumps(merged, indent=2, ensure_ascii=False))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """The source config's JSON Schema; --write and --check cover `_oncall.json`'s schema too."""
    folder = Path(args.config_dir)
    schemas = [(schema_path(folder), render_schema()), (oncall_schema_path(folder), render_oncall_schema())]
    if args.write:
        for target, text in schemas:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
        return 0
    if args.check:
        stale = [t for t, text in schemas if not t.exists() or t.read_text(encoding="utf-8") != text]
        for target in stale:
            print(f"{target} is out of date with the models: run `scripts/ingest schema --write`", file=sys.stderr)
        if stale:
            return 1
        print(" and ".join(str(t) for t, _ in schemas) + " match the models")
        return 0
    sys.stdout.write(schemas[0][1])
    return 0


def cmd_infra_vars(args: argparse.Namespace) -> int:
    """The Terraform variables generated from the configs of every environment (containers, lifecycle rules)."""
    try:
        text = render_infra_vars(Path(args.config_dir))
    except (InvalidSourceConfigError, InfraVarsError) as error:
        # Written from nothing (a wrong --config-dir) or from part of the configs, the file would drop containers
        # and lifecycle rules that Terraform then destroys: nothing is written or printed.
        print(f"ingest infra-vars: nothing written: {error}", file=sys.stderr)
        return 1
    target = Path(args.out)
    if args.write:
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
        return 0
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is out of date with the configs: run `scripts/ingest infra-vars --write`", file=sys.stderr)
            return 1
        print(f"{target} matches the configs")
        return 0
    sys.stdout.write(text)
    return 0


INVENTORY_COLUMNS = [
    "source",
    "kind",
    "dag_id",
    "team",
    "primary_owner",
    "secondary_owner",
    "schedule",
    "refresh_frequency",
    "entity",
    "load_mode",
    "primary_key",
    "topic",
    "column",
    "type",
    "nullable",
    "is_key",
    "pii",
    "pii_strategy",
    "description",
]


def _inventory_rows(plans: list[DagPlan]) -> list[dict[str, str]]:
    rows = []
    for plan in plans:
        config = plan.config
        for entity in plan.entities:
            base = {
                "source": config.name,
                "kind": config.kind.value,
                "dag_id": plan.dag_id,
                "team": config.owners.team,
                "primary_owner": config.owners.primary,
                "secondary_owner": config.owners.secondary or "",
                "schedule": config.schedule or "",
                "refresh_frequency": refresh_frequency(config.schedule),
                "entity": entity.entity.name,
                "load_mode": entity.entity.load.mode,
                "primary_key": ",".join(entity.entity.primary_key),
                "topic": entity.topic,
            }
            for column in entity.entity.columns or ():
                rows.append(
                    base
                    | {
                        "column": column.name,
                        "type": column.type,
                        "nullable": "yes" if column.nullable else "no",
                        "is_key": "yes" if column.name in entity.entity.primary_key else "no",
                        "pii": "yes" if column.pii else "no",
                        "pii_strategy": column.pii_strategy.value if column.pii_strategy else "",
                        "description": column.description,
                    }
                )
    return rows


def _inventory_markdown(result: LoadResult, plans: list[DagPlan]) -> str:
    out = [
        "# Source inventory",
        "",
        f"Generated by `scripts/ingest docs` from the source configs (environment `{result.env}`). "
        "Do not edit: change the configs and regenerate.",
        "",
        "## Sources",
        "",
        "| source | kind | DAG | connection | team | primary owner | secondary owner | schedule | refresh | "
        "deadline | entities |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for plan in plans:
        c = plan.config
        deadline = ", ".join(
            part
            for part in (
                f"within {c.deadline.expected_duration_minutes} min" if c.deadline.expected_duration_minutes else "",
                f"by {c.deadline.finish_by} UTC" if c.deadline.finish_by else "",
            )
            if part
        )
        out.append(
            f"| {c.name} | {c.kind.value} | `{plan.dag_id}` | `{c.conn_id}` | {markdown_cell(c.owners.team)} | "
            f"{markdown_cell(c.owners.primary)} | {markdown_cell(c.owners.secondary or '-')} | `{c.schedule}` | "
            f"{refresh_frequency(c.schedule)} | {deadline or '-'} | {len(plan.entities)} |"
        )
    out += [
        "",
        "## Entities",
        "",
        "| source | entity | load | primary key | PII columns | undeclared data | topic | landing path |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for plan in plans:
        for e in plan.entities:
            pii = ", ".join(f"{col.name} ({col.pii_strategy})" for col in e.entity.columns if col.pii) or "-"
            out.append(
                f"| {plan.config.name} | {e.entity.name} | {e.entity.load.mode} | "
                f"{', '.join(e.entity.primary_key) or '-'} | {pii} | {undeclared_data_note(e.entity.undeclared)} | "
                f"`{e.topic}` | `{e.landing_path_pattern}` |"
            )
    out += [
        "",
        "## Columns",
        "",
        "| source | entity | column | type | nullable | key | PII | strategy | description |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in _inventory_rows(plans):
        out.append(
            f"| {row['source']} | {row['entity']} | `{row['column']}` | {markdown_cell(row['type'])} | "
            f"{row['nullable']} | {row['is_key']} | {row['pii']} | {row['pii_strategy'] or '-'} | "
            f"{markdown_cell(row['description'])} |"
        )
    return "\n".join(out) + "\n"


def cmd_docs(args: argparse.Namespace) -> int:
    result = _load(args)
    plans = _plans(result)
    if args.format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=INVENTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_inventory_rows(plans))
        text = buffer.getvalue()
    else:
        text = _inventory_markdown(result, plans)
        oncall = _oncall_or_none(args)
        text += "\n".join(oncall_inventory(plans, oncall.teams if oncall else {})) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote the inventory of {len(plans)} source(s) to {args.out}")
    else:
        sys.stdout.write(text)
    for error in result.errors:
        print(f"invalid, left out: {error}", file=sys.stderr)
    return 1 if result.errors else 0


def _control_engine(args: argparse.Namespace) -> Any:
    """The control DB's engine, named on stderr (host and database, never the password). Without a control DB
    configured this exits (2; 1 when the lookup failed in a way that may pass) rather than guess one."""
    from ingestion.errors import TerminalError
    from ingestion.state.engine import engine_for, resolve_control_db
    from ingestion.state.errors import ControlDbError

    try:
        control_db = resolve_control_db(args.db_url, allow_embedded=False)
        engine = engine_for(control_db)
    except ControlDbError as error:
        print(f"ingest {args.command}: {error}{'' if args.db_url else '; or pass --db-url'}", file=sys.stderr)
        raise SystemExit(2 if isinstance(error, TerminalError) else 1) from None
    print(f"control DB: {control_db.describe()}", file=sys.stderr)
    return engine


def _store(args: argparse.Namespace) -> Any:
    """The control store, its schema at this code's revision (an SQLite file is upgraded); a server database that is
    not exits 2 naming `ingest db upgrade`."""
    from ingestion.state.errors import ControlSchemaError
    from ingestion.state.schema import prepare
    from ingestion.state.store import ControlStore

    engine = _control_engine(args)
    try:
        prepare(engine)
    except ControlSchemaError as error:
        print(f"ingest {args.command}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return ControlStore(engine)


def cmd_db(args: argparse.Namespace) -> int:
    """`db upgrade`: bring the control DB's schema to this code's revision (idempotent). `db current`: its revision;
    exit 1 when it is not this code's."""
    from ingestion.state.errors import ControlSchemaError
    from ingestion.state.schema import schema_state, upgrade

    engine = _control_engine(args)
    try:
        if args.action == "current":
            state = schema_state(engine)
            print(state.current or "none")
            if not state.at_head:
                print(state.problem(), file=sys.stderr)
            return 0 if state.at_head else 1
        done = upgrade(engine)
    except ControlSchemaError as error:
        print(f"ingest db {args.action}: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if done.recorded:
        print(f"tables made before schema migrations recorded at revision {done.recorded} (no row changed)")
    outcome = "upgraded" if done.changed else "already this code's newest revision: nothing to do"
    print(f"control DB schema: {done.before or 'none'} -> {done.after} ({outcome})")
    return 0


def _entity_or_exit_code(args: argparse.Namespace) -> Entity | int:
    """The entity `watermark set|reset` names, or 2 after saying which sources or entities there are: a typo would
    otherwise create a stray watermark."""
    try:
        return load_entity_plan(args.source, args.entity, config_dir=Path(args.config_dir), env=args.env).entity
    except InvalidSourceConfigError as exc:
        print(exc, file=sys.stderr)
    except UnknownSourceError as exc:
        print(_no_such_source(args) if args.source not in _known_sources(args) else exc, file=sys.stderr)
    return 2


def _value_to_set(args: argparse.Namespace, entity: Entity) -> tuple[str, str] | int:
    """(text as a run would store it, value type) for `watermark set`, or 2 after saying why the value is refused.
    The type is the cursor's; `--type` only decides where the config does not declare the cursor column."""
    where = f"{args.source}.{args.entity}"
    declared = watermark_values.entity_value_type(entity)
    if declared is not None and args.type is not None and args.type != declared:
        cursor = entity.load.cursor_column or "(the files' mtime)"
        print(f"{where}'s cursor {cursor} is a {declared}: --type {args.type} does not match it", file=sys.stderr)
        return 2
    value_type = declared or args.type or "timestamp"
    try:
        return watermark_values.normalise(args.value, value_type), value_type
    except watermark_values.WatermarkValueError as exc:
        print(f"{where}: {exc}; nothing was changed", file=sys.stderr)
        return 2


def cmd_watermark(args: argparse.Namespace) -> int:
    if args.action in ("set", "reset"):
        return _change_watermark(args)
    store = _store(args)
    # Marks of a source whose config was removed are still shown; a typo, which has none, is named.
    if args.source is not None and args.source not in _known_sources(args) and not store.list_watermarks(args.source):
        print(_no_such_source(args), file=sys.stderr)
        return 2
    if args.action == "show":
        marks = store.list_watermarks(args.source)
        if args.entity:
            marks = [m for m in marks if m.entity == args.entity]
        print(f"{'source':<20} {'entity':<20} {'value':<34} {'type':<10} {'run_id':<40} updated_at")
        for m in marks:
            value = m.value if m.value is not None else "(none: next run loads everything)"
            print(f"{m.source:<20} {m.entity:<20} {value:<34} {m.value_type:<10} {m.run_id or '-':<40} {m.updated_at}")
        return 0
    if args.action == "history":
        for h in store.history(args.source, args.entity, limit=args.limit):
            print(
                f"{h.changed_at}  {h.source}.{h.entity}  {h.old_value} -> {h.new_value}  by {h.changed_by}: {h.reason}"
            )
        return 0
    raise AssertionError(f"unknown watermark action {args.action!r}")  # argparse allows no other


def _change_watermark(args: argparse.Namespace) -> int:
    entity = _entity_or_exit_code(args)
    if isinstance(entity, int):
        return entity
    value: str | None = None
    value_type = args.type
    given = ""
    if args.action == "set":
        if (unread := _watermark_unread(entity)) is not None:
            print(f"{args.source}.{args.entity}: {unread}; nothing was changed", file=sys.stderr)
            return 2
        chosen = _value_to_set(args, entity)
        if isinstance(chosen, int):
            return chosen
        value, value_type = chosen
        given = f", given as {args.value!r}" if value != args.value else ""
    mark = _store(args).set_watermark(
        args.source,
        args.entity,
        value,
        value_type=value_type,
        reason=args.reason,
        changed_by=f"cli:{os.environ.get('USER', 'unknown')}",
    )
    detail = f"{mark.value_type}{given}; " if args.action == "set" else ""
    print(f"{mark.source}.{mark.entity} watermark is now {mark.value!r} ({detail}{args.reason})")
    return 0


def _watermark_unread(entity: Entity) -> str | None:
    """Why no run would read a watermark set on this entity, or None when one would: a value set where none is read
    changes nothing, and the operator would believe the next run starts from it."""
    mode = entity.load.mode
    if entity.locator.kind == "sftp":
        return "load.mode is full: every run reads every file, whatever the watermark" if mode == "full" else None
    if mode != "incremental":
        return f"load.mode is {mode}: its runs read no watermark (only incremental loads start from one)"
    return None


def cmd_retention(args: argparse.Namespace) -> int:
    """Archive and delete landed partitions past their retention: `--dry-run` prints the plan and changes nothing,
    `--apply` does it and records every change in the control DB. The same as the daily `ingest_retention` DAG."""
    from datetime import UTC, date, datetime

    from ingestion.retention import run_retention

    try:
        today = date.fromisoformat(args.today) if args.today else datetime.now(UTC).date()
    except ValueError:
        print(f"ingest retention: --today {args.today!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
        return 2
    if args.apply and today > datetime.now(UTC).date():
        # A mistyped year would delete every partition but the newest, and their history; a dry run may look ahead.
        print(
            f"ingest retention: --today {today} is in the future; --apply deletes only up to the real date "
            "(--dry-run may look ahead)",
            file=sys.stderr,
        )
        return 2
    if args.source is not None and args.source not in _known_sources(args):
        print(f"ingest retention: {_no_such_source(args)}", file=sys.stderr)
        return 2
    store = _store(args)
    try:
        run_retention(
            store.engine,
            apply=args.apply,
            today=today,
            retention_run=f"cli:{os.environ.get('USER', 'unknown')}:{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
            folder=Path(args.config_dir),
            source=args.source,
            env=args.env,
            echo=print,
        )
    except Exception as error:
        if (said := _lake_error(error)) is None:
            raise
        print(f"ingest retention: stopped: {said}", file=sys.stderr)
        return 1
    finally:
        store.engine.dispose()
    return 0


def _lake_error(error: Exception) -> str | None:
    """One line for a lake that is not configured or did not answer, or None for any other error. An apply that
    fails part way has recorded each change it made before the failure, so the next run goes on from there."""
    from airflow.exceptions import AirflowNotFoundException
    from azure.core.exceptions import AzureError

    if isinstance(error, AirflowNotFoundException):
        return f"{error} (the lake's Airflow connection; see docs/deployment.md)"
    if isinstance(error, AzureError):
        return f"the lake did not answer: {_first_line(error)}"
    return None


def _first_line(error: object) -> str:
    """An error's first line, redacted (a driver's or SDK's message may go on with a request or a statement)."""
    from ingestion.redact import redact

    lines = str(error).strip().splitlines() or [type(error).__name__]
    return redact(lines[0])


def cmd_oncall(args: argparse.Namespace) -> int:
    """Who is on call for each team with a rotation in `_oncall.json`, now or at --at."""
    from datetime import UTC, datetime

    from ingestion.config.oncall import ONCALL_FILE, load_oncall, on_call

    try:
        at = datetime.fromisoformat(args.at.replace("Z", "+00:00")) if args.at else datetime.now(UTC)
        at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        print(f"ingest oncall: --at {args.at!r} is not a time (ISO 8601, e.g. 2026-12-24T10:00:00Z)", file=sys.stderr)
        return 2
    try:
        config = load_oncall(Path(args.config_dir))
    except InvalidSourceConfigError as error:
        print(error, file=sys.stderr)
        return 1
    if not config.teams:
        print(f"no on-call rotations: {ONCALL_FILE} is missing or names no team")
        return 0
    print(f"on call at {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    rows = [("team", "on call", "backup", "lead", "until (UTC)", "why")]
    for team, rotation in sorted(config.teams.items()):
        try:
            duty = on_call(team, rotation, at)
        except OverflowError:  # the rotation's next hand-over would be past the year 9999
            print(f"ingest oncall: --at {args.at!r} is too far ahead to place {team}'s rotation", file=sys.stderr)
            return 2
        rows.append((team, duty.primary, duty.secondary or "-", duty.lead, f"{duty.until:%Y-%m-%d %H:%M}", duty.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ingestion.status import entity_statuses, render_table

    result = _load(args)
    configs = [c for name, c in result.configs.items() if not args.source or name == args.source]
    if args.source and not configs:
        print(f"no valid config for source {args.source!r}", file=sys.stderr)
        return 2
    statuses = entity_statuses(configs, _store(args), oncall=_oncall_or_none(args))
    if args.json:
        print(json.dumps([s.as_dict() for s in statuses], indent=2))
    else:
        print(render_table(statuses))
    for error in result.errors:
        print(f"invalid, left out: {error}", file=sys.stderr)
    # Non-zero when something needs attention, so the command can gate a script or a check.
    return 1 if any(s.state in ("late", "failing") or s.failing_checks for s in statuses) else 0


def cmd_access(args: argparse.Namespace) -> int:
    """`access show`: each team's role and DAGs, from the configs. `access sync`: write them into Airflow's FAB auth
    manager (run at deploy, after `airflow db migrate`); exit 2 when that cannot be done."""
    from ingestion.access.teams import team_access

    result = _load(args)
    teams = team_access(result.configs.values())
    for error in result.errors:
        print(f"invalid, left out: {error}", file=sys.stderr)
    if args.action == "show":
        for access in teams:
            print(f"{access.role} (team {access.team}): {', '.join(access.dag_ids)}")
        return 1 if result.errors else 0
    from ingestion.access.errors import AccessSyncError
    from ingestion.access.fab_roles import fab_security_manager, sync_team_roles

    try:
        with fab_security_manager() as security_manager:
            synced = sync_team_roles(security_manager, teams)
    except AccessSyncError as error:
        print(f"ingest access sync: {error}", file=sys.stderr)
        return 2
    for role in synced:
        print(role.describe())
    # A broken config has no DAG to protect; the sync still serves every valid one (the deploy goes on).
    return 0


def _positive_int(text: str) -> int:
    value = int(text) if text.strip().lstrip("+").isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _said(text: str) -> str:
    """A reason the history keeps: not blank (an audit line that says nothing defeats the audit)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must say why (it is kept in the history); it is blank")
    return text


DB_URL_HELP = (
    "control DB URL (default: $INGEST_CONTROL_DB_URL, then the Airflow connection $INGEST_CONTROL_CONN_ID or "
    "control_db; never guessed: without one the command exits 2)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ingest", description=__doc__)
    parser.add_argument("--config-dir", default=str(default_config_dir()), help="folder of source configs")
    parser.add_argument("--env", default=None, help="overlay to apply (default: $INGEST_ENV or dev)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("validate", help="validate every config; exit 1 listing every error").set_defaults(
        func=cmd_validate
    )
    list_parser = commands.add_parser("list", help="one line per source")
    list_parser.add_argument("--json", action="store_true")
    list_parser.set_defaults(func=cmd_list)
    show = commands.add_parser("show", help="a source's merged config (defaults + file + overlay)")
    show.add_argument("source")
    show.set_defaults(func=cmd_show)
    schema = commands.add_parser("schema", help="print the JSON Schema generated from the models")
    mode = schema.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write it to schema/ in the config folder")
    mode.add_argument("--check", action="store_true", help="exit 1 if the committed schema is out of date")
    schema.set_defaults(func=cmd_schema)
    infra = commands.add_parser(
        "infra-vars", help="print the Terraform variables (containers, lifecycle rules) generated from the configs"
    )
    infra_mode = infra.add_mutually_exclusive_group()
    infra_mode.add_argument("--write", action="store_true", help="write them to the file --out names")
    infra_mode.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    infra.add_argument("--out", default=str(INFRA_VARS_PATH), help="default: %(default)s")
    infra.set_defaults(func=cmd_infra_vars)
    docs = commands.add_parser("docs", help="the source inventory: sources, entities, columns, keys, PII, owners")
    docs.add_argument("--format", choices=["md", "csv"], default="md")
    docs.add_argument("--out", help="file to write (default: standard output)")
    docs.set_defaults(func=cmd_docs)

    watermark = commands.add_parser("watermark", help="show, set or reset a watermark (audited in its history)")
    watermark.add_argument("--db-url", help=DB_URL_HELP)
    actions = watermark.add_subparsers(dest="action", required=True)
    show_marks = actions.add_parser("show", help="live watermarks")
    show_marks.add_argument("source", nargs="?")
    show_marks.add_argument("entity", nargs="?")
    history = actions.add_parser("history", help="every change, newest first")
    history.add_argument("source")
    history.add_argument("entity", nargs="?")
    history.add_argument("--limit", type=_positive_int, default=50)
    set_mark = actions.add_parser(
        "set", help="set a watermark to a value, stored in the form a run writes (timestamps as UTC ISO 8601)"
    )
    set_mark.add_argument("source")
    set_mark.add_argument("entity")
    set_mark.add_argument("value", help="e.g. 2026-11-03T02:00:00Z, 2026-11-03T03:00:00+01:00, 2026-11-03, 42")
    set_mark.add_argument(
        "--type",
        default=None,
        choices=watermark_values.VALUE_TYPES,
        help="value type; taken from the entity's cursor column, so only needed where the config does not declare "
        "it (default there: timestamp)",
    )
    reset = actions.add_parser("reset", help="clear a watermark: the next run reloads everything")
    reset.add_argument("source")
    reset.add_argument("entity")
    reset.set_defaults(type="timestamp")
    for action in (set_mark, reset):
        action.add_argument("--reason", required=True, type=_said, help="why: kept in the watermark history")
    watermark.set_defaults(func=cmd_watermark)

    status = commands.add_parser(
        "status",
        help="per entity: last success, freshness against schedule and deadline, rows, watermark, failing checks",
    )
    status.add_argument("source", nargs="?")
    status.add_argument("--json", action="store_true")
    status.add_argument("--db-url", help=DB_URL_HELP)
    status.set_defaults(func=cmd_status)

    oncall = commands.add_parser("oncall", help="who is on call for each team (rotations in _oncall.json)")
    oncall.add_argument("--at", help="the time to ask about, ISO 8601 (default: now; no zone: UTC)")
    oncall.set_defaults(func=cmd_oncall)

    retention = commands.add_parser(
        "retention", help="archive and delete landed partitions past their retention (every change recorded)"
    )
    retention_mode = retention.add_mutually_exclusive_group(required=True)
    retention_mode.add_argument("--dry-run", action="store_true", help="print what --apply would do; change nothing")
    retention_mode.add_argument("--apply", action="store_true", help="do it, and record each change in the control DB")
    retention.add_argument("--source", help="only this source's entities (default: every valid config)")
    retention.add_argument("--today", help="the day ages count from, YYYY-MM-DD (default: today, UTC)")
    retention.add_argument("--db-url", help=DB_URL_HELP)
    retention.set_defaults(func=cmd_retention)

    db = commands.add_parser("db", help="the control DB's schema: upgrade it to this code's revision, or show it")
    db.add_argument("--db-url", help=DB_URL_HELP)
    db_actions = db.add_subparsers(dest="action", required=True)
    db_upgrade = db_actions.add_parser(
        "upgrade",
        help="apply the migrations this code has and the database lacks (idempotent; run before the new code serves)",
    )
    db_current = db_actions.add_parser("current", help="print the schema revision; exit 1 when it is not this code's")
    for action in (db_upgrade, db_current):  # `db --db-url URL upgrade` and `db upgrade --db-url URL` both work
        action.add_argument("--db-url", help=DB_URL_HELP, default=argparse.SUPPRESS)
    db.set_defaults(func=cmd_db)

    access = commands.add_parser("access", help="one Airflow role per owning team, with its own DAGs only")
    access_actions = access.add_subparsers(dest="action", required=True)
    access_actions.add_parser("show", help="each team's role and DAGs, from the configs (no Airflow needed)")
    access_actions.add_parser(
        "sync",
        help="create or update the team roles in Airflow's FAB auth manager, exactly as the configs say (idempotent; "
        "run at deploy after `airflow db migrate`)",
    )
    access.set_defaults(func=cmd_access)

    probe = commands.add_parser(
        "test-connection", help="prove a source's DAG could run from here: source, columns, landing, topics (exit 1)"
    )
    probe.add_argument("source")
    probe.set_defaults(func=cmd_test_connection)
    from ingestion.onboarding.scaffold import add_parser as add_scaffold_parser

    add_scaffold_parser(commands)

    inspect = commands.add_parser(
        "inspect", help="a committed run's landed files (rows, bytes), sample rows (PII hidden) and topic offsets"
    )
    inspect.add_argument("source")
    inspect.add_argument("entity")
    inspect.add_argument("--run", help="run id (default: the entity's latest committed run)")
    inspect.add_argument("--rows", type=int, default=5, help="sample rows to show (default: %(default)s)")
    inspect.add_argument("--db-url", help=DB_URL_HELP)
    inspect.set_defaults(func=cmd_inspect)
    return parser


def cmd_test_connection(args: argparse.Namespace) -> int:
    from ingestion.onboarding.connection_check import run

    return run(args.config_dir, args.env, args.source)


def cmd_inspect(args: argparse.Namespace) -> int:
    """A committed run's landed files, sample rows (PII columns hidden) and its topic's offsets."""
    from ingestion.inspect_run import inspect_run

    result = _load(args)
    config = result.configs.get(args.source)
    entities = plan_source(config, result.env).entities if config else ()
    plan = next((p for p in entities if p.entity.name == args.entity), None)
    if plan is None:
        print(f"ingest inspect: no valid config for {args.source}.{args.entity}", file=sys.stderr)
        return 2
    store = _store(args)
    try:
        return inspect_run(store, plan, args.run, rows=args.rows)
    finally:
        store.engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. What an operator causes outside the commands' own checks ends in one line and an exit
    code, not a traceback: output piped into `head`, Ctrl-C, a file that cannot be written."""
    args = build_parser().parse_args(argv)
    if (missing := _missing_config_dir(args)) is not None:
        print(f"ingest {args.command}: nothing done: {missing}", file=sys.stderr)
        return 2
    if (unknown := _unknown_env(args)) is not None:
        print(f"ingest: {unknown}", file=sys.stderr)
        return 2
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, not at exit, so a reader that went away is caught below
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's exit flush from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a pipeline's writer
    except KeyboardInterrupt:
        print(f"ingest {args.command}: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT
    except OSError as error:
        # Writing --out to a missing folder or onto a folder, reading a file that went away.
        where = f": {error.filename}" if error.filename else ""
        print(f"ingest {args.command}: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except Exception as error:
        if (said := _database_error(error)) is None:
            raise
        print(f"ingest {args.command}: {said}", file=sys.stderr)
        return 1


# Commands that do not read the config folder: the control DB's schema, and drafting a new source's config.
_WITHOUT_CONFIGS = frozenset({"db", "scaffold"})


def _missing_config_dir(args: argparse.Namespace) -> str | None:
    """Why --config-dir is not a folder to read, or None. A mistyped folder would otherwise validate to "0 sources",
    write an empty inventory, or (schema --write) be created with only the schemas in it."""
    folder = Path(args.config_dir)
    if args.command in _WITHOUT_CONFIGS or folder.is_dir():
        return None
    return f"config folder {folder} {'is not a folder' if folder.exists() else 'does not exist'} (--config-dir)"


def _unknown_env(args: argparse.Namespace) -> str | None:
    """Why --env (or, without it, INGEST_ENV) names no environment of the config folder, or None."""
    env = args.env or current_env()
    if (why := env_without_overlay(Path(args.config_dir), env)) is None:
        return None
    return f"{'--env' if args.env else ENV_VAR} {env!r} {why}"


def _database_error(error: Exception) -> str | None:
    """One line for a database that refused or did not answer (the driver's own first line, redacted) or whose
    driver is missing, or None for any other error. SQLAlchemy's text would add the statement and a link; the URL
    stays out (the command has named the database on stderr before connecting)."""
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError

    from ingestion.redact import redact

    if isinstance(error, NoSuchModuleError):
        return f"no database driver for this URL's scheme ({redact(str(error))})"
    if isinstance(error, ModuleNotFoundError) and error.name and not error.name.startswith("ingestion"):
        return f"the module {error.name!r} is not installed (a database driver this URL's scheme needs?)"
    if not isinstance(error, DBAPIError):
        return None
    return f"the database refused or did not answer: {_first_line(error.orig)}"
