"""Raw PII lands in `landing.sensitive_container`, never in the general `landing.container`: a config naming one
container for both is refused, whether the source's landing does it or an entity's (merged over the source's)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ingestion.config.loader import LoadResult, load_configs
from tests.sample_configs import sample_config_dir

SAMPLES_DIR = sample_config_dir()


def _load_with(tmp_path: Path, change: Any) -> LoadResult:
    folder = tmp_path / "source_configs"
    shutil.copytree(SAMPLES_DIR, folder)
    crm = json.loads((folder / "crm.json").read_text())
    change(crm)
    (folder / "crm.json").write_text(json.dumps(crm))
    return load_configs(folder, "dev")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        # _defaults.json's sensitive_container is "sensitive"
        (lambda crm: crm.update(landing={"container": "sensitive"}), "$.landing"),
        (lambda crm: crm.update(landing={"sensitive_container": "landing"}), "$.landing"),
        (lambda crm: crm["entities"][1].update(landing={"container": "sensitive"}), "$.entities[1].landing"),
        (
            lambda crm: crm["entities"][0].update(landing={"container": "pii", "sensitive_container": "pii"}),
            "$.entities[0].landing",
        ),
    ],
    ids=["source-container", "source-sensitive", "entity-container", "entity-both"],
)
def test_one_container_for_general_and_sensitive_data_is_refused(tmp_path: Path, change: Any, where: str) -> None:
    result = _load_with(tmp_path, change)

    assert [(Path(e.file).name, e.path) for e in result.errors] == [("crm.json", "$")], result.errors
    message = result.errors[0].message
    assert f"{where}.container and {where}.sensitive_container are both" in message
    assert "raw PII would land in the general container" in message
    assert sorted(result.configs) == ["orders_api", "partner_files"]


def test_an_entity_may_move_both_containers(tmp_path: Path) -> None:
    # Its own container equal to the source's sensitive one is fine once its sensitive data goes elsewhere.
    result = _load_with(
        tmp_path,
        lambda crm: crm["entities"][0].update(landing={"container": "sensitive", "sensitive_container": "pii"}),
    )

    assert result.errors == []
