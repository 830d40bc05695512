"""A config the models accept but whose DAG cannot be built (Airflow refuses an argument, a timedelta overflows, any
other exception while planning or building) costs only that source: the other sources' DAGs and the platform DAGs
load, and the config-errors file's import error names the source's file and the exception.

The exception is planted by wrapping the builder for one source, so the test holds whatever the models learn to refuse
(each refusal they learn moves a case from here to `scripts/ingest validate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag

import ingestion.factory
from ingestion.alerts_dag import ALERTS_DAG_ID
from ingestion.retention_dag import RETENTION_DAG_ID
from ingestion.smoke import SMOKE_DAG_ID
from tests.sample_configs import REPO, sample_config_dir

SECRET = "Pw-unbuildable-51"


def _refusing_crm(monkeypatch: pytest.MonkeyPatch) -> None:
    real_build_dag = ingestion.factory.build_dag

    def build_dag(plan: Any, *args: Any, **kwargs: Any) -> Any:
        if plan.config.name == "crm":
            # Several lines, like Airflow's owner_links message, and a URI whose password must not reach the UI.
            raise ValueError(f"Airflow refuses this DAG\n  see postgresql://u:{SECRET}@db/x")
        return real_build_dag(plan, *args, **kwargs)

    monkeypatch.setattr(ingestion.factory, "build_dag", build_dag)


def test_a_source_whose_dag_cannot_be_built_costs_only_its_own_dag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(sample_config_dir()))
    monkeypatch.setenv("INGEST_ENV", "dev")
    _refusing_crm(monkeypatch)

    bag = DagBag(dag_folder=str(REPO / "dags"))

    assert set(bag.dags) == {"ingest_orders_api", "ingest_partner_files", SMOKE_DAG_ID, ALERTS_DAG_ID, RETENTION_DAG_ID}
    (error_file, message) = next(iter(bag.import_errors.items()))
    assert list(bag.import_errors) == [error_file]
    assert error_file.endswith("ingestion_config_errors.py")
    assert "1 source config file(s) are invalid" in message
    lines = [line.strip() for line in message.splitlines() if ".json: " in line]
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        "/crm.json: $: cannot build its DAG: ValueError: Airflow refuses this DAG see postgresql://***@db/x"
    ), lines
    assert SECRET not in message


def test_the_config_errors_file_holds_no_copy_of_the_dags(monkeypatch: pytest.MonkeyPatch) -> None:
    # It builds every DAG to find the unbuildable ones; a DAG it kept would be a second DAG of the same id.
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(sample_config_dir()))
    monkeypatch.setenv("INGEST_ENV", "dev")

    bag = DagBag(dag_folder=str(REPO / "dags" / "ingestion_config_errors.py"))

    assert (bag.dags, bag.import_errors) == ({}, {})


@pytest.mark.parametrize("env", ["prdo", "local"])
def test_a_deployment_env_without_an_overlay_is_an_import_error_and_the_dags_still_load(
    monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    # INGEST_ENV=prdo planned every source with the defaults alone (dev-like retries, retention and containers) and
    # said nothing. `local`, a machine that is not deployed, needs no overlay.
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(sample_config_dir()))
    monkeypatch.setenv("INGEST_ENV", env)

    bag = DagBag(dag_folder=str(REPO / "dags"))

    assert {"ingest_crm", "ingest_orders_api", "ingest_partner_files"} <= set(bag.dags)
    if env == "local":
        assert bag.import_errors == {}
        return
    (error_file, message) = next(iter(bag.import_errors.items()))
    assert error_file.endswith("ingestion_config_errors.py")
    assert "overlays: $: INGEST_ENV 'prdo' has no overlay overlays/prdo.json; environments: dev, prod" in message
