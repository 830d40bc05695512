"""The JSON Schema of a source config, generated from the models so the two can never drift.

The generated file is committed under include/source_configs/schema/ and named by `$schema` in every config, so
editors validate and complete configs as they are written; tests/unit/config/test_schema.py fails when the committed
file and the models disagree (regenerate with `scripts/ingest schema --write`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingestion.config.models import SourceConfig

SCHEMA_FILE_NAME = "source_config.schema.json"
SCHEMA_REF = f"./schema/{SCHEMA_FILE_NAME}"  # what configs put in "$schema", relative to the config folder
SCHEMA_ID = "https://ingestion-platform.invalid/schema/source_config.schema.json"


def source_config_schema() -> dict[str, Any]:
    schema = SourceConfig.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Source config",
        "description": "One source system and its entities; the DAG factory builds the DAG ingest_<name> from it.",
        **{key: value for key, value in schema.items() if key not in {"title", "description"}},
    }


def render_schema() -> str:
    """The schema as committed: stable key order and a trailing newline, so diffs stay readable."""
    return json.dumps(source_config_schema(), indent=2, sort_keys=True) + "\n"


def schema_path(config_dir: Path) -> Path:
    return config_dir / "schema" / SCHEMA_FILE_NAME


ONCALL_SCHEMA_FILE_NAME = "oncall.schema.json"
ONCALL_SCHEMA_ID = "https://ingestion-platform.invalid/schema/oncall.schema.json"


def render_oncall_schema() -> str:
    """The JSON Schema of `_oncall.json` (config.oncall), as committed beside the source config's."""
    from ingestion.config.oncall import OnCallConfig

    schema = OnCallConfig.model_json_schema(by_alias=True, mode="validation")
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ONCALL_SCHEMA_ID,
        "title": "On-call rotations",
        "description": "Per owning team: members in rotation order, the lead, the weekly hand-over and holiday "
        "overrides.",
        **{key: value for key, value in schema.items() if key not in {"title", "description"}},
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def oncall_schema_path(config_dir: Path) -> Path:
    return config_dir / "schema" / ONCALL_SCHEMA_FILE_NAME
