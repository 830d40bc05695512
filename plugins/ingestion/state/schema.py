"""The control database's schema revision: Alembic migrations in `state/migrations/versions/`, recorded in a version
table of their own (`ingest_alembic_version`, so a control database that shares its database with Airflow's metadata
never touches Airflow's `alembic_version`).

- `upgrade(engine)` brings a database to the newest revision: what `scripts/ingest db upgrade` runs, and what a deploy
  runs before the new code serves. A database whose tables were made before migrations existed (every open ran
  `create_all`; there is no version table) is first recorded at the revision its tables match, without touching a
  row. Concurrent upgrades take turns: Postgres under an advisory lock, in one transaction (a failed migration changes
  nothing); SQLite under its write lock.
- `prepare(engine)` is what opening the store for a stage (or the CLI) does. A server database (Postgres, MySQL) is
  shared by every worker, so its schema changes only through `upgrade`: one behind (or ahead of) this code raises
  ControlSchemaError, terminal, naming the command. An SQLite file belongs to one machine (the embedded control DB,
  or a file named by hand): it is upgraded on the spot.

To change a table: edit `tables.py`, add a revision to `migrations/versions/` whose `down_revision` is the current
head, and keep both in step (tests/unit/state/test_schema.py compares the migrated schema with `tables.py`).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, MetaData, String, Table, func, inspect, select

from ingestion.state.errors import ControlSchemaError
from ingestion.state.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection, Engine

VERSION_TABLE = "ingest_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "scripts/ingest db upgrade"

# The tables each revision creates, oldest first, for databases made before migrations existed (each open created
# the missing tables): such a database is recorded at the newest revision whose tables it has. 0001 is the schema as
# released; 0002 and 0003 came after it, one change at a time, so a database made between them is recognised too.
# Revisions after these need no entry: a database made since has the version table.
TABLES_BEFORE_MIGRATIONS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "0001",
        frozenset(
            {
                "ingest_watermark",
                "ingest_watermark_history",
                "ingest_entity_run",
                "ingest_check_result",
                "ingest_alert",
                "ingest_processed_file",
            }
        ),
    ),
    ("0002", frozenset({"ingest_publish"})),
    ("0003", frozenset({"ingest_boundary_key"})),
)


@dataclass(frozen=True)
class SchemaState:
    """Where a control database's schema stands. `current` is the revision recorded in its version table (None:
    none recorded); `unversioned_tables` are the control tables of a database made before migrations existed."""

    current: str | None
    head: str
    known: bool
    unversioned_tables: frozenset[str] = frozenset()

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    def problem(self) -> str:
        """Why a stage cannot use the database, and what to run; empty when it can."""
        run = f"run `{UPGRADE_COMMAND}` against it (a deploy runs it before the new code serves)"
        if self.at_head:
            return ""
        if self.unversioned_tables:
            return (
                f"the control database's tables were made before schema migrations existed (no {VERSION_TABLE} "
                f"table); this code needs revision {self.head}: {run}. It records the revision the tables match and "
                "upgrades them, keeping every row"
            )
        if self.current is None:
            return f"the control database has no control tables yet; this code needs schema revision {self.head}: {run}"
        if not self.known:
            return (
                f"the control database's schema is at revision {self.current}, which this code does not know (its "
                f"newest is {self.head}): newer code has migrated it. Run the code that matches it"
            )
        return f"the control database's schema is at revision {self.current}; this code needs {self.head}: {run}"


@dataclass(frozen=True)
class SchemaUpgrade:
    """What `upgrade` did: the revision before (after recording `recorded` for tables made before migrations) and
    after."""

    before: str | None
    after: str
    recorded: str | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the control database's migrations, without an alembic.ini; `connection` is the
    one migrations/env.py runs them on (inside its transaction)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "the control database has no migrations"
    return head


@functools.cache
def revisions() -> tuple[str, ...]:
    """Every revision, oldest first."""
    return tuple(script.revision for script in reversed(list(_scripts().walk_revisions())))


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """For autogenerate's comparison: only the control tables count (Airflow's may share the database)."""
    return type_ != "table" or name in metadata.tables


def revision_before_migrations(table_names: set[str]) -> str | None:
    """The revision a database made before migrations existed is at, judged by its table names: the newest revision
    one of its tables belongs to, provided every table of that revision and of the ones before it is there. None when
    it has no control table. Raises ControlSchemaError for a set of tables no release ever made, changing nothing."""
    present = [i for i, (_, tables) in enumerate(TABLES_BEFORE_MIGRATIONS) if tables & table_names]
    if not present:
        return None
    newest = max(present)
    needed = frozenset().union(*(tables for _, tables in TABLES_BEFORE_MIGRATIONS[: newest + 1]))
    if missing := sorted(needed - table_names):
        raise ControlSchemaError(
            f"the control database has control tables but no {VERSION_TABLE} table, and they match no released schema "
            f"(missing: {', '.join(missing)}). Nothing was changed: compare it with plugins/ingestion/state/tables.py"
        )
    return TABLES_BEFORE_MIGRATIONS[newest][0]


# Read directly, not through Alembic's MigrationContext, which logs two lines each time: a stage checks at every open.
_version_table = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32), nullable=False))


def _current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    recorded = conn.execute(select(_version_table.c.version_num)).scalars().all()
    if len(recorded) > 1:  # branches: this project's migrations are one line
        raise ControlSchemaError(f"the control database records several schema revisions: {', '.join(recorded)}")
    return recorded[0] if recorded else None


def schema_state(engine: Engine) -> SchemaState:
    """Where the database's schema stands against this code's migrations (reads only)."""
    head = head_revision()
    with engine.connect() as conn:
        current = _current_revision(conn)
        names = set(inspect(conn).get_table_names()) if current is None else set()
    unversioned = frozenset(names & set(metadata.tables)) if VERSION_TABLE not in names else frozenset()
    return SchemaState(current, head, current is None or current in revisions(), unversioned)


def require_head(engine: Engine) -> None:
    """Raise ControlSchemaError unless the database is at this code's newest revision."""
    state = schema_state(engine)
    if not state.at_head:
        raise ControlSchemaError(state.problem())


def migration_lock_key(schema: str) -> int:
    """The advisory-lock key of upgrades of one Postgres schema: the same in every process."""
    digest = hashlib.blake2b(f"{VERSION_TABLE}:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_for_migration(conn: Connection) -> None:
    """Let one upgrade at a time read and change the schema, until `conn`'s transaction ends. Must come first."""
    if conn.dialect.name == "postgresql":
        schema = conn.execute(select(func.current_schema())).scalar() or ""
        conn.execute(select(func.pg_advisory_xact_lock(migration_lock_key(schema))))
    elif conn.dialect.name == "sqlite":
        # pysqlite begins no transaction of its own before DDL: this BEGIN makes the whole upgrade one transaction
        # under the write lock (SQLite's DDL is transactional).
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(engine: Engine) -> SchemaUpgrade:
    """Bring the database to the newest revision; a no-op at head. Tables made before migrations are first recorded
    at the revision they match (their rows untouched). Raises ControlSchemaError for a revision this code does not
    know (newer code migrated it), changing nothing."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    head = head_revision()
    with engine.connect() as conn:
        _lock_for_migration(conn)
        current = _current_revision(conn)
        recorded = None
        if current is None and not inspect(conn).has_table(VERSION_TABLE):
            recorded = revision_before_migrations(set(inspect(conn).get_table_names()))
            if recorded is not None:
                MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).stamp(_scripts(), recorded)
                current = recorded
        if current is not None and current not in revisions():
            raise ControlSchemaError(SchemaState(current, head, known=False).problem())
        if current != head:
            command.upgrade(alembic_config(conn), "head")
        after = _current_revision(conn)
        conn.commit()
    assert after == head, f"the upgrade ended at {after}, not {head}"
    return SchemaUpgrade(before=current, after=head, recorded=recorded)


def prepare(engine: Engine) -> None:
    """What opening the control store does: an SQLite file (the machine's own) is upgraded if it is behind; a server
    database must be at head already (ControlSchemaError otherwise)."""
    if engine.dialect.name == "sqlite":
        if not schema_state(engine).at_head:  # read first: at head, no write lock is taken
            upgrade(engine)
        return
    require_head(engine)
