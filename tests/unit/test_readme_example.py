"""The worked example of adding a source (docs/sources.md) is a valid config that builds the DAG it promises."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_worked_example_validates_and_builds(tmp_path: Path) -> None:
    page = (REPO / "docs" / "sources.md").read_text()
    section = page[page.index("## Adding a source: a worked example") :]
    block = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert block is not None
    example = json.loads(block.group(1))
    config_dir = tmp_path / "configs"
    shutil.copytree(REPO / "include" / "source_configs", config_dir)
    (config_dir / "billing.json").write_text(json.dumps(example))

    from ingestion.cli import main
    from ingestion.factory import build_dags

    assert main(["--config-dir", str(config_dir), "validate"]) == 0
    dag = build_dags(config_dir, env="dev").dags["ingest_billing"]
    assert dag.task_ids == ["invoices.extract_land", "invoices.validate", "invoices.publish", "invoices.commit"]
    assert "iris@example.com" in dag.doc_md
    assert all(task.depends_on_past for task in dag.tasks)  # incremental
