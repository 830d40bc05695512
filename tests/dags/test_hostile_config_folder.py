"""A config folder holding files that are not configs at all (wrong encoding, nesting bombs, a cron that never fires,
credentials in an overlay) costs only those files: the DAG folder still parses, every valid source's DAG and the
platform DAGs load, and the one import error names each bad file and where it goes wrong.

The same DagBag the dag-processor uses, over the repository's dags/ folder, with INGEST_CONFIG_DIR pointing at a copy
of the sample configs plus the hostile files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from ingestion.config.config_files import MAX_CONFIG_DEPTH
from tests.sample_configs import sample_config_dir

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sample_config_dir()
EXPECTED_DAGS = {
    "ingest_crm",
    "ingest_orders_api",
    "ingest_partner_files",
    "platform_smoke_check",
    "ingest_alerts",
    "ingest_retention",
}
SECRET = "Pw-9f8e7d"


def _hostile_folder(target: Path) -> Path:
    folder = target / "source_configs"
    shutil.copytree(CONFIGS, folder)
    crm = json.loads((CONFIGS / "crm.json").read_text())
    # Saved by an editor set to Latin-1: the ü is the single byte 0xfc, which is not UTF-8.
    latin = json.dumps({**crm, "name": "latin", "description": "Kühe"}, ensure_ascii=False)
    (folder / "latin.json").write_bytes(latin.encode("latin-1"))
    # Deep enough to exhaust the parser's stack (RecursionError) if it ever reached it.
    (folder / "deep.json").write_text('{"name": "deep", "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    # Well-formed but never due: building its DAG's runbook raised while the folder was parsed.
    (folder / "never.json").write_text(json.dumps({**crm, "name": "never", "schedule": "0 0 31 2 *", "deadline": {}}))
    # A connection URI pasted into the prod overlay: checked, and never echoed, though this environment is dev.
    prod = json.loads((CONFIGS / "overlays" / "prod.json").read_text())
    prod["crm"]["conn_id"] = f"postgresql://loader:{SECRET}@db.internal:5432/crm"
    (folder / "overlays" / "prod.json").write_text(json.dumps(prod))
    return folder


def test_undecodable_and_deeply_nested_configs_do_not_take_the_other_dags_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(_hostile_folder(tmp_path)))
    monkeypatch.setenv("INGEST_ENV", "dev")

    bag = DagBag(dag_folder=str(REPO / "dags"))

    assert set(bag.dags) == EXPECTED_DAGS
    (error_file, message) = next(iter(bag.import_errors.items()))
    assert list(bag.import_errors) == [error_file]
    assert error_file.endswith("ingestion_config_errors.py")
    assert "4 source config file(s) are invalid" in message
    lines = [line.strip() for line in message.splitlines()]
    latin = (tmp_path / "source_configs" / "latin.json").read_bytes()
    at = latin.index(b"\xfc")  # everything before it is ASCII: its column is its offset + 1
    assert any(
        f"/latin.json: line 1 column {at + 1}: not UTF-8: byte 0xfc at byte offset {at}" in line for line in lines
    ), lines
    prefix = '{"name": "deep", "x": '
    deep = f"/deep.json: line 1 column {len(prefix) + MAX_CONFIG_DEPTH}: nests deeper than {MAX_CONFIG_DEPTH} levels"
    assert any(deep in line for line in lines), lines
    assert any("/overlays/prod.json: $.crm.conn_id: looks like a URI with a password" in line for line in lines)
    assert any("/never.json: $.schedule: cron '0 0 31 2 *' never fires" in line for line in lines), lines
    assert SECRET not in message
    assert "RecursionError" not in message
    assert "UnicodeDecodeError" not in message
