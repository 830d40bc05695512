"""The CLI as users run it (`scripts/ingest ...`): exit codes and output on the sample configs and broken ones."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.sample_configs import sample_config_dir

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sample_config_dir()  # the outputs below are the samples'; an added source must not change them


def ingest(
    *args: str, config_dir: Path = CONFIGS, env: str | None = "dev", environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI on `config_dir`, with `--env env` (none if None) and `environ` added to this process's environment."""
    chosen = ["--env", env] if env is not None else []
    return subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(config_dir), *chosen, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, **(environ or {})},
    )


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    target = tmp_path / "configs"
    shutil.copytree(CONFIGS, target)
    crm = json.loads((CONFIGS / "crm.json").read_text())
    bad_cron = dict(crm, name="bad_cron", schedule="61 * * * *")
    (target / "bad_cron.json").write_text(json.dumps(bad_cron))
    leaked = dict(crm, name="leaked", conn_extra={"password": "hunter2"})
    (target / "leaked.json").write_text(json.dumps(leaked))
    (target / "not_json.json").write_text('{"name": "not_json",\n "kind": sql}')
    return target


def test_validate_passes_on_the_samples() -> None:
    done = ingest("validate")
    assert done.returncode == 0, done.stderr
    assert "ok: 3 source(s) valid in env dev: crm, orders_api, partner_files" in done.stdout


def test_validate_lists_every_error_and_exits_non_zero(broken_dir: Path) -> None:
    done = ingest("validate", config_dir=broken_dir)
    assert done.returncode == 1
    assert "4 error(s) in 3 file(s)" in done.stderr
    assert "bad_cron.json: $.schedule: '61 * * * *' is not a valid cron expression" in done.stderr
    assert "leaked.json: $.conn_extra.password: looks like a credential" in done.stderr
    # listed with the credential, not after it is fixed; an unknown key is named without its value
    assert "leaked.json: $.conn_extra: Extra inputs are not permitted\n" in done.stderr
    assert "not_json.json: line 2 column 10: invalid JSON" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert "3 other source(s) are valid: crm, orders_api, partner_files" in done.stdout


def test_list_names_every_source() -> None:
    done = ingest("list", "--json")
    assert done.returncode == 0
    rows = json.loads(done.stdout)
    assert [(r["source"], r["dag_id"], r["kind"]) for r in rows] == [
        ("crm", "ingest_crm", "sql"),
        ("orders_api", "ingest_orders_api", "http"),
        ("partner_files", "ingest_partner_files", "sftp"),
    ]
    assert rows[2]["entities"] == "customers,orders,events"


def test_show_prints_the_merged_config() -> None:
    dev = json.loads(ingest("show", "crm").stdout)
    prod = json.loads(ingest("show", "crm", env="prod").stdout)
    assert dev["landing"]["container"] == "landing"  # from _defaults.json
    assert dev["retries"]["count"] == 1
    assert prod["retries"]["count"] == 4
    assert prod["alerts"]["severity"] == "critical"
    assert "$schema" not in dev
    missing = ingest("show", "nope")
    assert missing.returncode == 2
    assert "no source 'nope'; known: crm, orders_api, partner_files" in missing.stderr


def test_schema_check_catches_a_stale_file(tmp_path: Path) -> None:
    assert ingest("schema", "--check").returncode == 0
    stale = tmp_path / "configs"
    shutil.copytree(CONFIGS, stale)
    (stale / "schema" / "source_config.schema.json").write_text("{}\n")
    done = ingest("schema", "--check", config_dir=stale)
    assert done.returncode == 1
    assert "out of date" in done.stderr
    assert ingest("schema", "--write", config_dir=stale).returncode == 0
    assert ingest("schema", "--check", config_dir=stale).returncode == 0


def test_docs_inventory_has_sources_entities_columns_keys_pii_owners_schedules(tmp_path: Path) -> None:
    out = tmp_path / "inventory.md"
    done = ingest("docs", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "| crm | sql | `ingest_crm` | `crm_postgres` | crm-data | ana.lima@example.com | bo.chen@example.com" in text
    assert "| every 30 minutes |" in text  # refresh frequency of orders_api
    assert (
        "| crm | customers | incremental | customer_id | email (hash), full_name (sensitive), phone (redact) |" in text
    )
    assert "| partner_files | customers | `name` | string | yes | no | yes | drop | customer name |" in text

    rows = list(csv.DictReader(io.StringIO(ingest("docs", "--format", "csv").stdout)))
    email = next(r for r in rows if r["source"] == "crm" and r["column"] == "email")
    assert (email["pii"], email["pii_strategy"], email["is_key"], email["primary_owner"]) == (
        "yes",
        "hash",
        "no",
        "ana.lima@example.com",
    )
    assert {r["source"] for r in rows} == {"crm", "orders_api", "partner_files"}
    assert len(rows) == 9 + 8 + 8 + 6 + 5 + 5  # every declared column of every entity


def test_watermark_set_show_reset_history_on_embedded_sqlite(tmp_path: Path) -> None:
    db = ["watermark", "--db-url", f"sqlite:///{tmp_path / 'control.db'}"]
    done = ingest(*db, "set", "crm", "customers", "2026-11-01T00:00:00+00:00", "--reason", "initial load cut-off")
    assert done.returncode == 0, done.stderr
    assert "crm.customers watermark is now '2026-11-01T00:00:00+00:00'" in done.stdout
    assert "2026-11-01T00:00:00+00:00" in ingest(*db, "show", "crm").stdout
    assert ingest(*db, "reset", "crm", "customers", "--reason", "full reload requested").returncode == 0
    assert "(none: next run loads everything)" in ingest(*db, "show").stdout
    history = ingest(*db, "history", "crm").stdout.splitlines()
    assert "2026-11-01T00:00:00+00:00 -> None" in history[0]
    assert history[0].endswith("full reload requested")
    assert "None -> 2026-11-01T00:00:00+00:00" in history[1]


def test_watermark_change_needs_a_known_entity_and_a_reason(tmp_path: Path) -> None:
    db = ["watermark", "--db-url", f"sqlite:///{tmp_path / 'control.db'}"]
    typo = ingest(*db, "reset", "crm", "customer", "--reason", "x")
    assert typo.returncode == 2
    assert "source 'crm' has no entity 'customer' (entities: customers, orders)" in typo.stderr
    no_reason = ingest(*db, "reset", "crm", "customers")
    assert no_reason.returncode == 2
    assert "--reason" in no_reason.stderr


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("2026-11-03T02:00:00Z", "2026-11-03T02:00:00+00:00"),
        ("2026-11-03T03:00:00+01:00", "2026-11-03T02:00:00+00:00"),
        ("2026-11-03", "2026-11-03T00:00:00+00:00"),
    ],
)
def test_watermark_set_stores_the_form_a_run_writes(tmp_path: Path, typed: str, stored: str) -> None:
    db = ["watermark", "--db-url", f"sqlite:///{tmp_path / 'control.db'}"]
    done = ingest(*db, "set", "crm", "customers", typed, "--reason", "start after the migration")
    assert done.returncode == 0, done.stderr
    assert f"crm.customers watermark is now {stored!r} (timestamp, given as {typed!r}" in done.stdout
    shown = ingest(*db, "show", "crm", "customers").stdout.splitlines()[1].split()
    assert shown[2:4] == [stored, "timestamp"]


def test_watermark_set_refuses_what_does_not_fit_the_cursor_and_stores_nothing(tmp_path: Path) -> None:
    control_db = tmp_path / "control.db"
    db = ["watermark", "--db-url", f"sqlite:///{control_db}"]
    garbage = ingest(*db, "set", "crm", "customers", "last tuesday", "--reason", "x")
    assert garbage.returncode == 2
    assert "crm.customers: 'last tuesday' is not a timestamp" in garbage.stderr
    assert "2026-11-03T02:00:00Z" in garbage.stderr  # the accepted forms, by example
    other_type = ingest(*db, "set", "crm", "customers", "42", "--type", "integer", "--reason", "x")
    assert other_type.returncode == 2
    assert "crm.customers's cursor updated_at is a timestamp: --type integer does not match it" in other_type.stderr
    unknown = ingest(*db, "set", "crm_typo", "customers", "2026-11-03", "--reason", "x")
    assert unknown.returncode == 2
    assert "no source 'crm_typo'; known: crm, orders_api, partner_files" in unknown.stderr
    assert not control_db.exists()  # refused before the control DB was even opened
    assert ingest(*db, "set", "partner_files", "orders", "2026-11-22 10:09:33", "--reason", "x").returncode == 0
    assert "2026-11-22T10:09:33+00:00" in ingest(*db, "show", "partner_files").stdout  # file mtimes: timestamps


def test_status_shows_last_success_freshness_rows_watermark_and_failing_checks(tmp_path: Path) -> None:
    import sys
    from datetime import UTC, datetime, timedelta

    sys.path.insert(0, str(REPO / "plugins"))
    from sqlalchemy import create_engine, update

    from ingestion.state.store import ControlStore, RunRecord
    from ingestion.state.tables import entity_runs

    url = f"sqlite:///{tmp_path / 'control.db'}"
    store = ControlStore(create_engine(url)).ensure_schema()
    for entity, rows in (("customers", 200), ("orders", 85)):
        record = RunRecord(source="crm", entity=entity, run_id=f"r_{entity}", dag_id="ingest_crm", load_mode="full")
        store.commit_run(
            RunRecord(**{**record.__dict__, "rows_landed": rows}),
            new_watermark="2026-11-03T03:20:00+00:00" if entity == "customers" else None,
            move_watermark=entity == "customers",
        )
    # orders last succeeded three days ago: later than its daily schedule plus its 45-minute expected duration.
    with store.engine.begin() as conn:
        conn.execute(
            update(entity_runs)
            .where(entity_runs.c.entity == "orders")
            .values(committed_at=datetime.now(UTC) - timedelta(days=3))
        )
    warn = {"name": "regex(country_code)", "kind": "regex", "passed": False, "severity": "warn", "detail": "x"}
    store.record_checks("crm", "customers", "r_customers", 1, [warn])
    store.engine.dispose()

    done = ingest("status", "crm", "--db-url", url)
    assert done.returncode == 1, done.stderr  # something needs attention
    lines = {line.split()[1]: line for line in done.stdout.splitlines()[1:]}
    assert lines["customers"].split()[2] == "ok"
    assert "200" in lines["customers"]
    assert "2026-11-03T03:20:00+00:00" in lines["customers"]
    assert lines["customers"].endswith("regex(country_code) [warn]")
    assert lines["orders"].split()[2] == "LATE"
    assert " 3d 0h" in lines["orders"]
    assert "1d 0h45m" in lines["orders"]  # due within: a day plus the expected duration
    as_json = json.loads(ingest("status", "crm", "--db-url", url, "--json").stdout)
    assert [s["state"] for s in as_json] == ["ok", "late"]
    assert ingest("status", "nope", "--db-url", url).returncode == 2


def test_retention_needs_a_mode_and_a_real_day_before_it_touches_anything() -> None:
    neither = ingest("retention")
    assert neither.returncode == 2
    assert "one of the arguments --dry-run --apply is required" in neither.stderr
    both = ingest("retention", "--dry-run", "--apply")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
    bad_day = ingest("retention", "--dry-run", "--today", "2026-13-01")
    assert (bad_day.returncode, bad_day.stderr) == (
        2,
        "ingest retention: --today '2026-13-01' is not a date (YYYY-MM-DD)\n",
    )


def test_retention_apply_refuses_a_day_in_the_future_and_an_unknown_source() -> None:
    # Refused before any control DB or lake is looked up: none is configured here.
    ahead = ingest("retention", "--apply", "--today", "2099-01-01")
    assert ahead.returncode == 2
    assert "ingest retention: --today 2099-01-01 is in the future" in ahead.stderr
    typo = ingest("retention", "--dry-run", "--source", "crmm")
    assert typo.returncode == 2
    assert "ingest retention: no source 'crmm'; known: crm, orders_api, partner_files" in typo.stderr


def test_retention_plans_each_entity_as_the_named_environment_has_it(tmp_path: Path) -> None:
    from ingestion.retention import scopes_from_configs

    folder = tmp_path / "configs"
    shutil.copytree(CONFIGS, folder)
    overlay = folder / "overlays" / "prod.json"
    prod = json.loads(overlay.read_text())
    prod["crm"] = {**prod.get("crm", {}), "retention": {"raw_days": 3650}}
    overlay.write_text(json.dumps(prod))
    by_env = {
        env: {s.entity: s.retention.raw_days for s in scopes_from_configs(folder, "crm", env)}
        for env in ("dev", "prod")
    }
    assert set(by_env["prod"].values()) == {3650}
    assert 3650 not in by_env["dev"].values()


@pytest.mark.parametrize("command", ["list", "schema"])
def test_a_reader_that_went_away_ends_the_command_quietly(command: str) -> None:
    # As `ingest list | head -0`: the pipe's reading end is closed before the command writes.
    argv = [str(REPO / "scripts" / "ingest"), "--config-dir", str(CONFIGS), command]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read()
    assert (process.wait(timeout=60), stderr) == (141, "")


def test_an_out_file_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "inventory.md"
    done = ingest("docs", "--out", str(missing))
    assert (done.returncode, done.stderr) == (1, f"ingest docs: No such file or directory: {missing}\n")
    onto_folder = ingest("docs", "--out", str(tmp_path))
    assert onto_folder.returncode == 1
    assert onto_folder.stderr == f"ingest docs: Is a directory: {tmp_path}\n"


def test_infra_vars_writes_nothing_from_a_wrong_or_empty_config_folder(tmp_path: Path) -> None:
    out = tmp_path / "generated.auto.tfvars.json"
    wrong = ingest("infra-vars", "--write", "--out", str(out), config_dir=tmp_path / "typo")
    assert (wrong.returncode, wrong.stderr) == (
        2,
        f"ingest infra-vars: nothing done: config folder {tmp_path / 'typo'} does not exist (--config-dir)\n",
    )
    assert not out.exists()
    empty = tmp_path / "empty"
    (empty / "overlays").mkdir(parents=True)
    (empty / "overlays" / "dev.json").write_text('{"*": {"retries": {"count": 1}}}')
    no_sources = ingest("infra-vars", "--write", "--out", str(out), config_dir=empty)
    assert (no_sources.returncode, no_sources.stderr) == (
        1,
        f"ingest infra-vars: nothing written: {empty} holds no source config (<source>.json)\n",
    )
    broken = ingest("infra-vars", "--write", "--out", str(out), config_dir=_broken_copy(tmp_path))
    assert broken.returncode == 1
    assert broken.stderr.startswith("ingest infra-vars: nothing written: ")
    assert "Traceback" not in broken.stderr
    assert not out.exists()


def _broken_copy(tmp_path: Path) -> Path:
    target = tmp_path / "broken"
    shutil.copytree(CONFIGS, target)
    (target / "not_json.json").write_text('{"name": "not_json",\n "kind": sql}')
    return target


@pytest.mark.parametrize(
    "command",
    [["validate"], ["list"], ["docs", "--out", "{tmp}/inventory.md"], ["schema", "--write"], ["oncall"]],
    ids=lambda c: c[0],
)
def test_a_mistyped_config_folder_is_one_line_and_nothing_is_written_or_created(
    tmp_path: Path, command: list[str]
) -> None:
    typo = tmp_path / "sorce_configs"
    done = ingest(*(part.format(tmp=tmp_path) for part in command), config_dir=typo)
    assert (done.returncode, done.stderr) == (
        2,
        f"ingest {command[0]}: nothing done: config folder {typo} does not exist (--config-dir)\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # schema --write made the folder; docs, an empty file
    a_file = tmp_path / "configs.json"
    a_file.write_text("{}")
    assert ingest("validate", config_dir=a_file).stderr.endswith(f"{a_file} is not a folder (--config-dir)\n")


def test_scaffold_leaves_an_existing_out_file_alone_unless_forced(tmp_path: Path) -> None:
    existing = tmp_path / "crm.json"
    existing.write_text('{"name": "crm"}')
    # Refused before the connection is looked up: none named `nowhere` exists.
    done = ingest("scaffold", "--conn", "nowhere", "--table", "items", "--out", str(existing))
    assert (done.returncode, done.stderr) == (
        2,
        f"ingest scaffold: {existing} exists; nothing was drafted (--force replaces it)\n",
    )
    assert existing.read_text() == '{"name": "crm"}'


def _silent_server() -> tuple[socket.socket, int]:
    """A TCP port that accepts connections and never answers (a hung server, or a proxy to nowhere)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server, server.getsockname()[1]


def test_a_control_db_that_refuses_or_never_answers_is_one_line_without_the_password() -> None:
    server, silent_port = _silent_server()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens once the probe is closed
    try:
        for port in (closed_port, silent_port):
            url = f"postgresql://loader:Hunter2-Secret@127.0.0.1:{port}/control"
            done = ingest("watermark", "--db-url", url, "show")
            assert done.returncode == 1, done.stderr
            last = done.stderr.splitlines()[-1]
            assert last.startswith("ingest watermark: the database refused or did not answer: "), done.stderr
            assert "Traceback" not in done.stderr
            assert "Hunter2-Secret" not in done.stdout + done.stderr
    finally:
        server.close()


def test_watermark_commands_refuse_what_no_run_would_read_and_name_a_typo(tmp_path: Path) -> None:
    db = ["watermark", "--db-url", f"sqlite:///{tmp_path / 'control.db'}"]
    # crm.orders loads by interval: no run reads its watermark, so setting one would change nothing.
    unread = ingest(*db, "set", "crm", "orders", "2026-11-01", "--reason", "start over")
    assert (unread.returncode, unread.stderr.splitlines()[-1]) == (
        2,
        "crm.orders: load.mode is interval: its runs read no watermark (only incremental loads start from one); "
        "nothing was changed",
    )
    blank = ingest(*db, "set", "crm", "customers", "2026-11-01", "--reason", " ")
    assert blank.returncode == 2
    assert "--reason: must say why (it is kept in the history); it is blank" in blank.stderr
    for action in ("show", "history"):
        typo = ingest(*db, action, "crmm")
        assert (typo.returncode, typo.stderr.splitlines()[-1]) == (
            2,
            "no source 'crmm'; known: crm, orders_api, partner_files",
        )
    assert ingest(*db, "history", "crm", "--limit", "-5").returncode == 2
    assert ingest(*db, "history", "crm", "--limit", "3").returncode == 0


def test_retention_without_the_lake_connection_is_one_line(tmp_path: Path) -> None:
    # No Airflow connection of any kind: only the control DB, an SQLite file.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow")}
    done = subprocess.run(
        [
            str(REPO / "scripts" / "ingest"),
            "--config-dir",
            str(CONFIGS),
            "retention",
            "--dry-run",
            "--db-url",
            f"sqlite:///{tmp_path / 'control.db'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "ingest retention: stopped: The conn_id `lake_wasb` isn't defined (the lake's Airflow connection; see "
        "docs/deployment.md)"
    )


def test_times_past_what_python_can_hold_are_refused_not_a_traceback(tmp_path: Path) -> None:
    last_day_in_new_york = "9999-12-31T23:59:59-05:00"  # in UTC, a year 10000 does not exist
    oncall = ingest("oncall", "--at", last_day_in_new_york)
    assert (oncall.returncode, oncall.stderr) == (
        2,
        f"ingest oncall: --at '{last_day_in_new_york}' is not a time (ISO 8601, e.g. 2026-12-24T10:00:00Z)\n",
    )
    ahead = ingest("oncall", "--at", "9999-12-31T00:00:00Z")
    assert ahead.returncode == 2
    assert "is too far ahead to place" in ahead.stderr
    db = ["watermark", "--db-url", f"sqlite:///{tmp_path / 'control.db'}"]
    mark = ingest(*db, "set", "crm", "customers", last_day_in_new_york, "--reason", "typo")
    assert mark.returncode == 2
    assert mark.stderr.startswith(f"crm.customers: '{last_day_in_new_york}' is not a timestamp: ")
    assert "Traceback" not in oncall.stderr + ahead.stderr + mark.stderr


def test_an_env_without_an_overlay_is_refused_naming_the_environments() -> None:
    typo = ingest("validate", env="prdo")
    assert (typo.returncode, typo.stderr) == (
        2,
        "ingest: --env 'prdo' has no overlay overlays/prdo.json; environments: dev, prod\n",
    )
    assert ingest("validate", env="prod").returncode == 0
    assert ingest("validate", env="local").returncode == 0  # a machine that is not deployed: the defaults alone


def test_an_ingest_env_without_an_overlay_is_refused_when_no_env_is_given() -> None:
    done = ingest("validate", env=None, environ={"INGEST_ENV": "prdo"})
    assert (done.returncode, done.stderr) == (
        2,
        "ingest: INGEST_ENV 'prdo' has no overlay overlays/prdo.json; environments: dev, prod\n",
    )
