"""`ingest scaffold`: draft a source config from the source itself, through the Airflow connection the DAG will use.

The kind comes from the connection's type: a database (sql_draft), an HTTP API (http_draft) or an SFTP server
(sftp_draft). The draft is a complete config that `ingest validate` accepts as it is; what a person must still decide
is said in it (TODO descriptions, PII suggestions with their reasons, in the columns' descriptions) and in the
summary the command prints: descriptions to write, PII choices to confirm, checks to add, owners and schedule.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingestion.onboarding.draft import DraftEntity
from ingestion.onboarding.errors import ScaffoldError

SQL_CONN_TYPES = frozenset({"postgres", "mysql", "mssql", "oracle", "sqlite", "snowflake", "redshift"})
HTTP_CONN_TYPES = frozenset({"http", "https"})
SFTP_CONN_TYPES = frozenset({"sftp", "ssh"})
DEFAULT_SAMPLE = 200


def source_kind(conn_type: str) -> str:
    if conn_type in SQL_CONN_TYPES:
        return "sql"
    if conn_type in HTTP_CONN_TYPES:
        return "http"
    if conn_type in SFTP_CONN_TYPES:
        return "sftp"
    raise ScaffoldError(f"connection type {conn_type!r} is not a database, HTTP or SFTP connection")


def source_name(conn_id: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", conn_id.lower()).strip("_")
    return name if name[:1].isalpha() else f"s_{name}"


def draft_entities(args: argparse.Namespace, kind: str) -> list[DraftEntity]:
    if kind == "sql":
        from ingestion.onboarding.sql_draft import draft_sql

        if not args.table and not args.schema:
            raise ScaffoldError("a database connection needs --table (repeatable) or --schema")
        return draft_sql(args.conn, args.table or [], args.schema, args.sample)[0]
    if not args.path:
        raise ScaffoldError(f"an {kind} connection needs --path")
    if kind == "http":
        from ingestion.onboarding.http_draft import draft_http

        return [draft_http(args.conn, args.path, args.record_path, args.sample)]
    from ingestion.onboarding.sftp_draft import draft_sftp

    return [draft_sftp(args.conn, args.path, args.pattern, args.sample)]


def draft_config(name: str, kind: str, conn_id: str, entities: Sequence[DraftEntity], args: Any) -> dict[str, Any]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "$schema": "./schema/source_config.schema.json",
        "name": name,
        "description": f"TODO: what {name} is, and what its data is for",
        "owners": {"primary": args.owner, "team": args.team},
        "schedule": "@daily",
        "start_date": today.isoformat().replace("+00:00", "Z"),
        "kind": kind,
        "conn_id": conn_id,
        "entities": [e.as_config() for e in entities],
    }


def check_draft(config: dict[str, Any]) -> None:
    """The draft must be a valid config as it is; anything else is a defect of the scaffold, said as one."""
    from pydantic import ValidationError

    from ingestion.config.models import SourceConfig

    try:
        SourceConfig.model_validate(config)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ScaffoldError(f"the draft is not a valid config ({problems}); adjust it by hand") from None


def summary(name: str, entities: Sequence[DraftEntity], written_to: str) -> list[str]:
    lines = [f"drafted {name} ({len(entities)} entit{'y' if len(entities) == 1 else 'ies'}) to {written_to}. Review:"]
    lines.append("  - owners, schedule and start_date (placeholders), and the source's description")
    for entity in entities:
        lines.append(f"  {entity.name}:")
        lines.append("    - descriptions: the entity's and each column's (they feed the runbook and the inventory)")
        for column in entity.columns:
            if column.pii is not None:
                lines.append(
                    f"    - PII {column.name}: suggested {column.pii.kind}, strategy {column.pii.strategy} "
                    f"({column.pii.reason}); applied: confirm, change the strategy, or remove"
                )
        lines += [f"    - {note}" for note in entity.notes]
        lines += [f"    - type of {c.name}: {c.note}" for c in entity.columns if c.note]
        checks = "not_null and unique on the primary key drafted; " if entity.primary_key else ""
        lines.append(f"    - checks: {checks}add accepted_values, range, regex or freshness where they hold")
    lines.append(f"then: scripts/ingest validate, and scripts/ingest test-connection {name}")
    return lines


def run(args: argparse.Namespace) -> int:
    from ingestion.onboarding.connection_check import said
    from ingestion.onboarding.console import own_stdout, quiet_libraries

    quiet_libraries()
    if args.out and os.path.lexists(args.out) and not args.force:
        # A draft written over a source's config would still validate: nothing would catch the loss.
        print(f"ingest scaffold: {args.out} exists; nothing was drafted (--force replaces it)", file=sys.stderr)
        return 2
    # The loader wants a config's name to be its file's: --out names it unless --name does.
    name = args.name or (source_name(Path(args.out).stem) if args.out else source_name(args.conn))
    with own_stdout() as out:
        try:
            from airflow.sdk import BaseHook  # in here: importing Airflow prints to standard output

            kind = source_kind(BaseHook.get_connection(args.conn).conn_type or "")
            entities = draft_entities(args, kind)
            config = draft_config(name, kind, args.conn, entities, args)
            check_draft(config)
        except Exception as exc:  # noqa: BLE001 - said safely (no value, no secret) and exit 1
            print(f"ingest scaffold: {said(exc, args.conn)}", file=sys.stderr)
            return 1
        text = json.dumps(config, indent=2, ensure_ascii=False) + "\n"
        if args.out:
            with open(args.out, "w" if args.force else "x", encoding="utf-8") as draft:
                draft.write(text)
            report = out
        else:
            out.write(text)
            report = sys.stderr  # the draft is on standard output
        for line in summary(name, entities, args.out or "standard output"):
            print(line, file=report)
    return 0


def add_parser(commands: Any) -> None:
    """The `scaffold` command's arguments (cli.py registers it)."""
    scaffold = commands.add_parser(
        "scaffold", help="draft a source config from the source, through the Airflow connection the DAG will use"
    )
    scaffold.add_argument("--conn", required=True, help="the Airflow connection id (its type decides the kind)")
    scaffold.add_argument("--name", help="the source's name (default: --out's file name, else the connection id)")
    scaffold.add_argument("--table", action="append", help='sql: "schema.table" or "table" (repeatable)')
    scaffold.add_argument("--schema", help="sql: every table of this schema")
    scaffold.add_argument("--path", help="http: the endpoint (/v1/orders); sftp: the folder")
    scaffold.add_argument("--record-path", default="data", help="http: dotted path of the record list (default: data)")
    scaffold.add_argument("--pattern", default="*", help="sftp: the file name pattern (default: *)")
    scaffold.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="rows or records sampled (default: 200)")
    scaffold.add_argument("--owner", default="owner@example.com", help="owners.primary (default: a placeholder)")
    scaffold.add_argument("--team", default="unassigned", help="owners.team (default: a placeholder)")
    scaffold.add_argument("--out", help="file to write (default: standard output); refused if it exists")
    scaffold.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    scaffold.set_defaults(func=run)
