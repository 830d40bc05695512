"""The DAG folder parses without errors and the platform DAGs have the expected shape.

DagBag here is the same loader the dag-processor uses; `dagbag.dags` (not get_dag()) because get_dag consults
the metadata DB and parsing must not need one.
"""

from __future__ import annotations

import itertools
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from ingestion.alerts_dag import ALERTS_DAG_ID
from ingestion.planner import WAITING_SOURCE_MAX_ACTIVE_RUNS, dag_id_for
from ingestion.retention_dag import RETENTION_DAG_ID
from ingestion.smoke import SMOKE_DAG_ID

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "include" / "source_configs"
SAMPLE_DAGS = {
    "ingest_crm": ("crm-data", "ana.lima@example.com", "bo.chen@example.com", ["customers", "orders"]),
    "ingest_orders_api": ("commerce-data", "carla.diaz@example.com", "dev.patel@example.com", ["orders"]),
    "ingest_partner_files": (
        "partner-integrations",
        "erik.sund@example.com",
        "fatima.khan@example.com",
        ["customers", "orders", "events"],
    ),
}
STAGES = ["extract_land", "validate", "publish", "commit"]
PLATFORM_DAGS = {SMOKE_DAG_ID, ALERTS_DAG_ID, RETENTION_DAG_ID}


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}


def config_dag_ids(config_dir: Path) -> dict[str, str]:
    """dag_id -> file name of every source config in `config_dir`, derived as the loader does: `*.json` not starting
    with `_`, the DAG named after the config's `name` (the file's stem when the file has no readable name)."""
    expected = {}
    for path in sorted(config_dir.glob("*.json")):
        if path.name.startswith("_"):
            continue
        try:
            name = json.loads(path.read_text()).get("name")
        except (OSError, ValueError, AttributeError):
            name = None
        expected[dag_id_for(name if isinstance(name, str) else path.stem)] = path.name
    return expected


def config_dag_problems(bag: DagBag, config_dir: Path) -> list[str]:
    """Every config that builds no DAG (with the loader's errors for it) and every source DAG without a config."""
    expected = config_dag_ids(config_dir)
    errors = [line.strip() for message in bag.import_errors.values() for line in str(message).splitlines()]
    problems = []
    for dag_id, file_name in expected.items():
        if dag_id not in bag.dags:
            why = [line for line in errors if f"/{file_name}: " in line] or ["no error reported"]
            problems.append(f"{file_name}: builds no DAG {dag_id!r}: {'; '.join(why)}")
    problems += [
        f"DAG {dag_id!r} has no config file" for dag_id in sorted(set(bag.dags) - set(expected) - PLATFORM_DAGS)
    ]
    return problems


def test_every_config_builds_its_dag_and_no_dag_lacks_a_config(dagbag: DagBag) -> None:
    # The expected set comes from the config folder: adding a source is a JSON file, no edit here. A config that
    # silently stops building still fails, naming its file.
    assert set(SAMPLE_DAGS) <= set(config_dag_ids(CONFIGS))
    assert config_dag_problems(dagbag, CONFIGS) == []
    assert set(dagbag.dags) >= PLATFORM_DAGS


def _bag_for(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> DagBag:
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(config_dir))
    return DagBag(dag_folder=str(REPO / "dags"))


def _config_folder_with(tmp_path: Path, file_name: str, **changes: object) -> Path:
    """A copy of the sample folder plus `file_name`: crm.json renamed after the file, with `changes` applied."""
    config_dir = tmp_path / "source_configs"
    shutil.copytree(CONFIGS, config_dir)
    data = json.loads((CONFIGS / "crm.json").read_text())
    data.update({"name": file_name.removesuffix(".json"), **changes})
    (config_dir / file_name).write_text(json.dumps(data, indent=2))
    return config_dir


def test_an_added_config_passes_the_check_with_no_python_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = _config_folder_with(tmp_path, "billing.json")
    bag = _bag_for(config_dir, monkeypatch)
    assert "ingest_billing" in bag.dags
    assert config_dag_problems(bag, config_dir) == []


def test_a_config_that_builds_no_dag_fails_the_check_naming_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = _config_folder_with(tmp_path, "billing.json", schedule="61 * * * *")
    (config_dir / "renamed.json").write_text(
        (config_dir / "orders_api.json").read_text().replace('"orders_api"', '"x"')
    )
    bag = _bag_for(config_dir, monkeypatch)
    problems = config_dag_problems(bag, config_dir)
    assert len(problems) == 2, problems
    assert problems[0].startswith("billing.json: builds no DAG 'ingest_billing': ")
    assert "billing.json: $.schedule: '61 * * * *' is not a valid cron expression" in problems[0]
    assert problems[1].startswith("renamed.json: builds no DAG 'ingest_x': ")
    assert "name 'x' must match the file name 'renamed'" in problems[1]


def test_a_dag_without_a_config_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = _config_folder_with(tmp_path, "billing.json")
    bag = _bag_for(config_dir, monkeypatch)
    (config_dir / "billing.json").unlink()  # the DAG was built from a file the folder no longer has
    assert config_dag_problems(bag, config_dir) == ["DAG 'ingest_billing' has no config file"]


@pytest.mark.parametrize("dag_id", sorted(SAMPLE_DAGS))
def test_task_groups_run_the_four_stages_in_order(dagbag: DagBag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    entities = SAMPLE_DAGS[dag_id][3]
    assert dag.task_ids == [f"{e}.{s}" for e in entities for s in STAGES]
    assert sorted(dag.task_group.children) == sorted(entities)
    for entity in entities:
        extract_land = dag.get_task(f"{entity}.extract_land")
        waits = extract_land.depends_on_past  # incremental entities
        for upstream, downstream in itertools.pairwise(STAGES):
            task = dag.get_task(f"{entity}.{downstream}")
            also = {f"{entity}.extract_land"} if waits and downstream == "commit" else set()
            assert task.upstream_task_ids == {f"{entity}.{upstream}"} | also
        assert extract_land.upstream_task_ids == set()
        # A run's extract_land waits for the previous run's commit (a direct downstream task, so Airflow's
        # wait_for_downstream checks it), or it would read that run's rows again when its commit failed.
        assert extract_land.wait_for_downstream == waits
        commit = dag.get_task(f"{entity}.commit")
        assert commit.downstream_task_ids == set()
        assert [a.uri for a in commit.outlets] == [f"ingest://{dag_id.removeprefix('ingest_')}/{entity}"]
        # One publisher per entity at a time: its transactional id would fence a concurrent run's publish.
        assert dag.get_task(f"{entity}.publish").max_active_tis_per_dag == 1
        assert dag.get_task(f"{entity}.extract_land").max_active_tis_per_dag is None
        # Every stage alerts the owning team when it fails after its retries.
        for stage in STAGES:
            (notifier,) = dag.get_task(f"{entity}.{stage}").on_failure_callback
            assert (notifier.source_name, notifier.entity_name) == (dag_id.removeprefix("ingest_"), entity)
            assert not dag.get_task(f"{entity}.{stage}").on_retry_callback  # alerts.on_retry is off by default


@pytest.mark.parametrize("dag_id", sorted(SAMPLE_DAGS))
def test_owners_tags_retries_and_run_limits(dagbag: DagBag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    team = SAMPLE_DAGS[dag_id][0]
    assert {task.owner for task in dag.tasks} == {team}
    assert {"ingestion", f"team:{team}", "env:dev"} <= set(dag.tags)
    # The dev overlay sets one retry after 10 s; the defaults double it each time up to 30 min.
    for task in dag.tasks:
        assert task.retries == 1
        assert task.retry_delay.total_seconds() == 10
        assert task.retry_exponential_backoff == 2.0
        assert task.max_retry_delay.total_seconds() == 1800
    # One run at a time, unless a run can wait for the previous one's commit: then an earlier run cleared to retry
    # its commit must be able to start while the next one waits for it.
    waits = any(task.wait_for_downstream for task in dag.tasks)
    assert dag.max_active_runs == (WAITING_SOURCE_MAX_ACTIVE_RUNS if waits else 1)


def test_depends_on_past_only_for_incremental_entities(dagbag: DagBag) -> None:
    crm = dagbag.dags["ingest_crm"]
    assert all(t.depends_on_past for t in crm.tasks if t.task_id.startswith("customers."))  # incremental
    assert not any(t.depends_on_past for t in crm.tasks if t.task_id.startswith("orders."))  # interval windows
    assert crm.get_task("customers.extract_land").wait_for_downstream
    assert not crm.get_task("orders.extract_land").wait_for_downstream


@pytest.mark.parametrize("dag_id", sorted(SAMPLE_DAGS))
def test_doc_md_is_a_runbook_naming_the_owners(dagbag: DagBag, dag_id: str) -> None:
    doc = dagbag.dags[dag_id].doc_md
    team, primary, secondary, entities = SAMPLE_DAGS[dag_id]
    assert doc.startswith(f"# {dag_id}: runbook")
    for expected in (team, primary, secondary, "## Owners and escalation", "## Schedule and deadline"):
        assert expected in doc
    for expected in ("## Common failures and what to do", "| column | type | nullable | PII | description |"):
        assert expected in doc
    for entity in entities:
        assert f"### {entity}" in doc
        assert f"`ingest.{dag_id.removeprefix('ingest_')}.{entity}`" in doc


def test_parsing_context_builds_only_the_requested_dag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "ingest_orders_api")
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_TASK_ID", "orders.extract_land")
    bag = DagBag(dag_folder=str(REPO / "dags" / "ingestion_dags.py"))
    assert set(bag.dags) == {"ingest_orders_api"}


BROKEN = {
    "missing_field.json": ("$.owners", "Field required"),
    "wrong_type.json": ("$.catchup", "valid boolean"),
    "unknown_key.json": ("$.entities[0].colums", "Extra inputs are not permitted"),
    "bad_cron.json": ("$.schedule", "not a valid cron expression"),
    "duplicate_entity.json": ("$", "duplicate entity names"),
    "secret_in_config.json": ("$.token", "looks like a credential"),
    "quoted_table.json": ("$.entities[0].locator", "contains a quote"),
    "parent_path.json": ("$.entities[0].locator.remote_path", "contains '..'"),
    "pii_without_strategy.json": ("$.entities[0].columns[1]", "marked pii but has no pii_strategy"),
}


def _write_broken_configs(target: Path) -> None:
    crm = json.loads((CONFIGS / "crm.json").read_text())
    files = json.loads((CONFIGS / "partner_files.json").read_text())

    def variant(base: dict, file_name: str) -> dict:
        data = json.loads(json.dumps(base))
        data["name"] = file_name.removesuffix(".json")
        return data

    broken = {name: variant(files if name == "parent_path.json" else crm, name) for name in BROKEN}
    del broken["missing_field.json"]["owners"]
    broken["wrong_type.json"]["catchup"] = "sometimes"
    broken["unknown_key.json"]["entities"][0]["colums"] = []
    broken["bad_cron.json"]["schedule"] = "61 * * * *"
    broken["duplicate_entity.json"]["entities"].append(broken["duplicate_entity.json"]["entities"][0])
    broken["secret_in_config.json"]["token"] = "s3cr3t-value"
    broken["quoted_table.json"]["entities"][0]["locator"]["table"] = 'customers"; DROP TABLE x; --'
    broken["parent_path.json"]["entities"][0]["locator"]["remote_path"] = "inbound/../../etc"
    del broken["pii_without_strategy.json"]["entities"][0]["columns"][1]["pii_strategy"]
    for name, data in broken.items():
        (target / name).write_text(json.dumps(data, indent=2))


def test_broken_configs_are_one_loud_import_error_while_valid_dags_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "source_configs"
    shutil.copytree(CONFIGS, config_dir)
    _write_broken_configs(config_dir)
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(config_dir))

    bag = DagBag(dag_folder=str(REPO / "dags"))

    assert set(bag.dags) == set(config_dag_ids(CONFIGS)) | PLATFORM_DAGS
    assert len(bag.import_errors) == 1
    (error_file, message) = next(iter(bag.import_errors.items()))
    assert error_file.endswith("ingestion_config_errors.py")
    assert f"{len(BROKEN)} source config file(s) are invalid" in message
    error_lines = [line.strip() for line in message.splitlines() if ".json: $" in line]
    for file_name, (json_path, expected) in BROKEN.items():
        own = [line for line in error_lines if f"/{file_name}: " in line]
        assert own, f"no error line for {file_name}"
        assert any(f"{file_name}: {json_path}: " in line and expected in line for line in own), own
    assert "s3cr3t-value" not in message  # the error names the key, never the value


def test_smoke_dag_uses_every_hook_once_then_alerts(dagbag: DagBag) -> None:
    dag = dagbag.dags["platform_smoke_check"]
    checks = {
        "read_postgres",
        "read_mysql",
        "write_lake",
        "produce_kafka",
        "list_sftp",
        "call_api",
        "source_connections",
    }
    assert set(dag.task_ids) == checks | {"post_alert"}
    assert dag.get_task("post_alert").upstream_task_ids == checks
    assert type(dag.timetable).__name__ == "NullTimetable"  # manual runs only
    assert all(task.owner == "data-platform" for task in dag.tasks)
    assert all(task.retries == 1 for task in dag.tasks)
    assert "platform" in dag.tags


def test_plugin_manager_skips_the_library_package() -> None:
    # Airflow imports each .py under plugins/ as a top-level module named by its stem; ingestion/__main__.py would
    # run as `__main__` inside every Airflow component. plugins/.airflowignore must keep the package out.
    from airflow._shared.module_loading import find_path_from_directory

    scanned = [Path(p) for p in find_path_from_directory(str(REPO / "plugins"), ".airflowignore", "glob")]
    assert (REPO / "plugins" / "ingestion" / "__main__.py").exists()
    assert [p for p in scanned if "ingestion" in p.relative_to(REPO / "plugins").parts] == []


def test_alerts_dag_runs_digest_and_escalation_every_five_minutes_one_at_a_time(dagbag: DagBag) -> None:
    dag = dagbag.dags["ingest_alerts"]
    assert dag.task_ids == ["digest_and_escalate"]
    assert dag.max_active_runs == 1
    assert dag.timetable.expression == "*/5 * * * *"
    assert not dag.catchup


def test_retention_dag_applies_retention_once_a_day_one_run_at_a_time(dagbag: DagBag) -> None:
    dag = dagbag.dags["ingest_retention"]
    assert dag.task_ids == ["apply_retention"]
    assert dag.max_active_runs == 1
    assert dag.timetable.expression == "30 2 * * *"
    assert not dag.catchup
    assert dag.get_task("apply_retention").retries == 1
    assert "platform" in dag.tags


def test_a_configured_deadline_becomes_a_deadline_alert(dagbag: DagBag, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingestion.factory import build_dags

    queued, finish_by = dagbag.dags["ingest_crm"].deadline
    assert queued.interval.total_seconds() == 45 * 60  # crm.json: expected_duration_minutes 45
    assert queued.callback.path == "ingestion.notify.deadline.deadline_missed"
    assert queued.callback.kwargs == {"source": "crm", "minutes": 45}
    # crm.json runs at 02:00 and must finish by 04:00: from the logical date (the day before, 02:00) that is 26 h.
    assert finish_by.reference.__class__.__name__ == "DagRunLogicalDateDeadline"
    assert finish_by.interval == timedelta(hours=26)
    assert finish_by.callback.kwargs == {"source": "crm", "finish_by": "04:00"}
    (files,) = dagbag.dags["ingest_partner_files"].deadline  # finish_by only
    assert files.interval == timedelta(hours=26)  # 06:00 run, 08:00 finish
    (api,) = dagbag.dags["ingest_orders_api"].deadline  # expected_duration_minutes only
    assert api.interval == timedelta(minutes=20)
    monkeypatch.setenv("INGEST_DEADLINES", "off")  # for `airflow dags test` (see scripts/demo.sh)
    assert build_dags(dag_id="ingest_crm").dags["ingest_crm"].deadline is None
