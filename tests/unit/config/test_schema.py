"""The committed JSON Schema is the one the models generate, and every sample config names it and conforms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ingestion.config.schema import SCHEMA_REF, render_schema, schema_path

CONFIGS = Path(__file__).resolve().parents[3] / "include" / "source_configs"
SAMPLES = sorted(p for p in CONFIGS.glob("*.json") if not p.name.startswith("_"))


def test_committed_schema_matches_the_models() -> None:
    committed = schema_path(CONFIGS).read_text(encoding="utf-8")
    assert committed == render_schema(), "schema out of date: run `scripts/ingest schema --write` and commit it"


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(json.loads(render_schema()))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_config_names_the_schema_and_conforms(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["$schema"] == SCHEMA_REF
    assert (path.parent / data["$schema"]).resolve() == schema_path(CONFIGS).resolve()
    validator = Draft202012Validator(json.loads(schema_path(CONFIGS).read_text(encoding="utf-8")))
    assert [e.message for e in validator.iter_errors(data)] == []


def test_schema_refuses_what_the_models_refuse() -> None:
    validator = Draft202012Validator(json.loads(render_schema()))
    data = json.loads((CONFIGS / "crm.json").read_text(encoding="utf-8"))
    data["entities"][0]["colums"] = []
    data["catchup"] = "sometimes"
    messages = " ".join(e.message for e in validator.iter_errors(data))
    assert "'colums' was unexpected" in messages
    assert "'sometimes' is not of type 'boolean'" in messages
