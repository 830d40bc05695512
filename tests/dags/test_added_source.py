"""A source is added by a JSON file alone: with one more config in the folder, the config-level checks pass (validate,
list, the DAG folder parses into one DAG per config) and the tests about the three samples still read those three.

The added config is the worked example of docs/sources.md (`billing.json`), dropped into a copy of
include/source_configs/ as a person adding a source would.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag

from ingestion.alerts_dag import ALERTS_DAG_ID
from ingestion.config.loader import load_configs
from ingestion.planner import dag_id_for
from ingestion.retention_dag import RETENTION_DAG_ID
from ingestion.smoke import SMOKE_DAG_ID
from tests.sample_configs import CONFIG_DIR, REPO, SAMPLES, copy_samples, sample_config_dir


def _worked_example() -> dict[str, Any]:
    page = (REPO / "docs" / "sources.md").read_text()
    section = page[page.index("## Adding a source: a worked example") :]
    block = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert block is not None
    example: dict[str, Any] = json.loads(block.group(1))
    return example


@pytest.fixture
def folder_with_billing(tmp_path: Path) -> Path:
    folder = tmp_path / "source_configs"
    shutil.copytree(CONFIG_DIR, folder)
    (folder / "billing.json").write_text(json.dumps(_worked_example(), indent=2))
    return folder


def _ingest(config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(config_dir), "--env", "dev", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_an_added_source_validates_lists_and_builds_its_dag(
    folder_with_billing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = sorted(p.stem for p in folder_with_billing.glob("[!_]*.json"))
    assert "billing" in names
    assert set(SAMPLES) < set(names)

    validated = _ingest(folder_with_billing, "validate")
    assert validated.returncode == 0, validated.stderr
    assert f"ok: {len(names)} source(s) valid in env dev: {', '.join(names)}" in validated.stdout
    listed = _ingest(folder_with_billing, "list", "--json")
    assert [row["source"] for row in json.loads(listed.stdout)] == names

    monkeypatch.setenv("INGEST_CONFIG_DIR", str(folder_with_billing))
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    platform = {SMOKE_DAG_ID, ALERTS_DAG_ID, RETENTION_DAG_ID}
    assert set(bag.dags) == {dag_id_for(name) for name in names} | platform
    assert bag.dags["ingest_billing"].task_ids == [
        f"invoices.{stage}" for stage in ("extract_land", "validate", "publish", "commit")
    ]


def test_the_tests_about_the_samples_read_the_samples_whatever_else_the_folder_holds(
    folder_with_billing: Path, tmp_path: Path
) -> None:
    copy = copy_samples(tmp_path / "samples", source=folder_with_billing)
    shared = {p.name for p in folder_with_billing.glob("_*.json")}
    assert {p.name for p in copy.glob("*.json")} == shared | {f"{name}.json" for name in SAMPLES}
    for path in sorted(folder_with_billing.rglob("*")):
        kept = copy / path.relative_to(folder_with_billing)
        if path.is_file() and path.parent != folder_with_billing:  # overlays/, schema/: whole
            assert kept.read_bytes() == path.read_bytes(), kept
    loaded = load_configs(copy, "dev")
    assert (sorted(loaded.configs), loaded.errors) == (list(SAMPLES), [])
    # The copy the sample tests share is made the same way from the real folder.
    assert sorted(p.stem for p in sample_config_dir().glob("[!_]*.json")) == list(SAMPLES)
