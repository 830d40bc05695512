"""docker-compose.yaml cannot run on the build machines (no Docker engine), so this keeps it honest: it parses,
and its services, host ports and Airflow connections agree with the native stack's."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestion.celery_worker import CELERY_CONFIG
from stack.connections import connections
from stack.settings import ALL_SERVICES, DEFAULT_PORTS, Settings

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_COMPONENTS = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker-1",
    "airflow-worker-2",
}
# Monitoring runs in compose only (Grafana reads the control DB; Prometheus scrapes Airflow's StatsD metrics).
MONITORING = {"statsd-exporter", "prometheus", "grafana"}
# Connections only the native stack defines: key-based SFTP auth needs the key the native stack generates.
NATIVE_ONLY = {"partner_sftp_key"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def _native_connections() -> dict[str, dict[str, Any]]:
    settings = Settings.from_env({})
    return connections(settings, sftp_host_key="ssh-ed25519 AAAA", sftp_key_file=Path("/k"))


def test_services_are_the_native_stack_plus_airflow(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == set(ALL_SERVICES) | AIRFLOW_COMPONENTS | MONITORING


def test_host_ports_match_the_native_stack(compose: dict[str, Any]) -> None:
    for service in ALL_SERVICES:
        published = {int(p.split(":")[0]) for p in compose["services"][service]["ports"]}
        assert DEFAULT_PORTS[service] in published, service


def test_every_service_has_a_healthcheck_and_airflow_waits_for_them(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in set(ALL_SERVICES) | (AIRFLOW_COMPONENTS - {"airflow-init"}):
        assert "test" in services[name]["healthcheck"], name
    for name in AIRFLOW_COMPONENTS - {"airflow-init"}:
        depends = services[name]["depends_on"]
        assert all(depends[s]["condition"] == "service_healthy" for s in ALL_SERVICES), name
        assert depends["airflow-init"]["condition"] == "service_completed_successfully"


def test_airflow_connections_match_the_native_stack(compose: dict[str, Any]) -> None:
    env = compose["x-airflow-common"]["environment"]
    in_compose = {
        key.removeprefix("AIRFLOW_CONN_").lower(): json.loads(value)
        for key, value in env.items()
        if key.startswith("AIRFLOW_CONN_")
    }
    native = _native_connections()
    assert set(in_compose) == set(native) - NATIVE_ONLY
    for conn_id, conn in in_compose.items():
        assert conn["conn_type"] == native[conn_id]["conn_type"], conn_id
        assert conn.get("login") == native[conn_id].get("login"), conn_id
        assert conn.get("schema") == native[conn_id].get("schema"), conn_id
        assert sorted(conn.get("extra", {})) == sorted(native[conn_id].get("extra", {})) or conn_id == "partner_sftp"


def test_every_airflow_component_uses_the_common_block(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_COMPONENTS:
        env = compose["services"][name]["environment"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
        assert "AIRFLOW_CONN_CRM_POSTGRES" in env


def test_airflow_runs_celery_on_redis_with_two_workers_of_their_own(compose: dict[str, Any]) -> None:
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:@redis:6379/")
    # The result backend is the metadata database, through the same driver.
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    workers = [compose["services"][name] for name in ("airflow-worker-1", "airflow-worker-2")]
    assert [w["command"] for w in workers] == ["celery worker"] * 2
    assert [w["hostname"] for w in workers] == ["airflow-worker-1", "airflow-worker-2"]
    # The platform's Celery settings, as `make airflow EXECUTOR=celery` sets them (workers preload libraries).
    module, _, name = env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"].rpartition(".")
    assert getattr(importlib.import_module(module), name) is CELERY_CONFIG


def test_dockerfile_builds_on_the_official_image_with_pinned_requirements() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.splitlines()[1].startswith("FROM apache/airflow:3.3.2")
    assert "-c /opt/airflow/requirements/constraints.txt" in dockerfile
    requirements = (REPO / "requirements.txt").read_text()
    assert "apache-airflow==3.3.2" in requirements


def test_airflow_metrics_go_to_statsd_exporter_which_prometheus_scrapes(compose: dict[str, Any]) -> None:
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__METRICS__STATSD_ON"] == "True"
    assert env["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"
    prometheus = yaml.safe_load((REPO / "stack" / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert targets == ["statsd-exporter:9102"]


def test_grafana_is_provisioned_with_the_control_db_and_the_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: REPO / v.split(":")[0] for v in grafana["volumes"]}
    sources = yaml.safe_load((mounts["/etc/grafana/provisioning"] / "datasources" / "datasources.yaml").read_text())
    control = next(d for d in sources["datasources"] if d["uid"] == "control-db")
    assert control["url"] == "postgres:5432"
    assert control["jsonData"]["database"] == "control"
    dashboards = list(mounts["/var/lib/grafana/dashboards"].glob("*.json"))
    assert [d.name for d in dashboards] == ["ingestion.json"]
    uids = {p["datasource"]["uid"] for p in json.loads(dashboards[0].read_text())["panels"]}
    assert uids == {d["uid"] for d in sources["datasources"]}


def _connections_the_platform_uses() -> set[str]:
    """Every connection id the sample configs name (source, lake, Kafka, PII keys, alert channels and routes), plus
    the control DB's and the smoke check's own."""
    from ingestion.config.loader import load_configs
    from ingestion.smoke import build_smoke_dag

    used = {"control_db"}
    for config in load_configs(REPO / "include" / "source_configs", "dev").configs.values():
        used |= {config.conn_id, config.landing.conn_id, config.kafka.conn_id}
        used |= {config.pii.hash_key_conn_id, config.pii.encryption_key_conn_id}
        used |= set(config.alerts.channels).union(*config.alerts.routing.values())
    for task in build_smoke_dag().tasks:  # each check's connection is its function's `conn_id` default
        if (conn_id := inspect.signature(task.python_callable).parameters.get("conn_id")) is not None:
            used.add(conn_id.default)
    return used


def test_compose_helm_and_the_native_stack_agree_on_auth_and_the_connections_used(compose: dict[str, Any]) -> None:
    """The three ways to run the platform name the same connections and sign users in the same way where they can:
    compose and the native stack define every connection the configs and the platform use (Helm reads them from
    Key Vault by the same ids), and compose runs the auth manager the image and the Helm values run."""
    env = compose["x-airflow-common"]["environment"]
    in_compose = {key.removeprefix("AIRFLOW_CONN_").lower() for key in env if key.startswith("AIRFLOW_CONN_")}
    used = _connections_the_platform_uses()
    assert {"crm_postgres", "shop_mysql", "lake_wasb", "kafka_default", "slack_alerts", "control_db"} <= used
    assert used - in_compose == set()
    assert used - set(_native_connections()) == set()
    for name in ("dev", "prod"):
        values = yaml.safe_load((REPO / "deploy" / "helm" / f"values-{name}.yaml").read_text())
        assert values["config"]["core"]["auth_manager"] == env["AIRFLOW__CORE__AUTH_MANAGER"], name
        assert {"name": "INGEST_ENV", "value": name} in values["env"]
