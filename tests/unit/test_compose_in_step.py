"""docker-compose.yaml cannot run on the build machines (no Docker engine), so this keeps it honest: it parses,
and its services, host ports and Airflow connections agree with the native stack's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.connections import connections
from stack.settings import ALL_SERVICES, DEFAULT_PORTS, Settings

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_COMPONENTS = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}
# Connections only the native stack defines: key-based SFTP auth needs the key the native stack generates.
NATIVE_ONLY = {"partner_sftp_key"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def _native_connections() -> dict[str, dict[str, Any]]:
    settings = Settings.from_env({})
    return connections(settings, sftp_host_key="ssh-ed25519 AAAA", sftp_key_file=Path("/k"))


def test_services_are_the_native_stack_plus_airflow(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == set(ALL_SERVICES) | AIRFLOW_COMPONENTS


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


def test_dockerfile_builds_on_the_official_image_with_pinned_requirements() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.splitlines()[1].startswith("FROM apache/airflow:3.3.2")
    assert "-c /opt/airflow/requirements/constraints.txt" in dockerfile
    requirements = (REPO / "requirements.txt").read_text()
    assert "apache-airflow==3.3.2" in requirements
