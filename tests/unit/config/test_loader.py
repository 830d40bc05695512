"""The config loader: each kind of broken config gives its own error naming file and field; valid ones still load."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ingestion.config.loader import deep_merge, load_configs

VALID: dict[str, Any] = {
    "name": "crm",
    "owners": {"primary": "ana@example.com", "secondary": "bo@example.com", "team": "crm-data"},
    "schedule": "0 * * * *",
    "start_date": "2026-11-01T00:00:00Z",
    "kind": "sql",
    "conn_id": "crm_postgres",
    "entities": [
        {
            "name": "customers",
            "locator": {"kind": "sql", "table": "customers", "schema": "public"},
            "primary_key": ["customer_id"],
            "columns": [
                {"name": "customer_id", "type": "integer", "nullable": False},
                {"name": "email", "type": "string", "pii": True, "pii_strategy": "hash"},
                {"name": "updated_at", "type": "timestamp", "nullable": False},
            ],
            "load": {"mode": "incremental", "cursor_column": "updated_at", "lookback_minutes": 10},
        }
    ],
}


def _variant(name: str, mutate: Any) -> tuple[str, dict[str, Any]]:
    data = copy.deepcopy(VALID)
    data["name"] = name
    mutate(data)
    return name, data


def _sensitive_without_key(entity: dict[str, Any]) -> None:
    entity["primary_key"] = []
    entity["columns"][1]["pii_strategy"] = "sensitive"


def _check_on_dropped(entity: dict[str, Any]) -> None:
    entity["columns"][1]["pii_strategy"] = "drop"
    entity["checks"] = [{"kind": "not_null", "columns": ["email"]}]


def _set(path: list[Any], value: Any) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


BROKEN = dict(
    [
        _variant("missing_field", lambda d: d.pop("owners")),
        _variant("wrong_type", _set(["catchup"], "sometimes")),
        _variant("unknown_key", _set(["entities", 0, "colums"], [])),
        _variant("bad_cron", _set(["schedule"], "61 * * * *")),
        _variant("duplicate_entity", lambda d: d["entities"].append(copy.deepcopy(d["entities"][0]))),
        _variant("password_in_config", _set(["password"], "hunter22")),
        _variant("quoted_table", _set(["entities", 0, "locator", "table"], 'customers"; DROP TABLE x; --')),
        _variant("pii_without_strategy", _set(["entities", 0, "columns", 1, "pii_strategy"], None)),
        _variant("strategy_without_pii", _set(["entities", 0, "columns", 1, "pii"], False)),
        _variant(
            "redacted_key",
            _set(
                ["entities", 0, "columns", 0],
                {"name": "customer_id", "type": "integer", "pii": True, "pii_strategy": "redact"},
            ),
        ),
        _variant("sensitive_without_key", lambda d: _sensitive_without_key(d["entities"][0])),
        _variant("check_on_dropped", lambda d: _check_on_dropped(d["entities"][0])),
        _variant("masked_cursor", _set(["entities", 0, "load", "cursor_column"], "email")),
    ]
)
EXPECTED = {
    "missing_field": ("$.owners", "Field required"),
    "wrong_type": ("$.catchup", "valid boolean"),
    "unknown_key": ("$.entities[0].colums", "Extra inputs are not permitted"),
    "bad_cron": ("$.schedule", "not a valid cron expression"),
    "duplicate_entity": ("$", "duplicate entity names: ['customers']"),
    "password_in_config": ("$.password", "looks like a credential"),
    "quoted_table": ("$.entities[0].locator", "contains a quote"),
    "pii_without_strategy": ("$.entities[0].columns[1]", "marked pii but has no pii_strategy"),
    "strategy_without_pii": ("$.entities[0].columns[1]", 'set "pii": true'),
    "redacted_key": ("$.entities[0]", "key column(s) ['customer_id'] may only use pii_strategy hash"),
    "sensitive_without_key": ("$.entities[0]", "sensitive needs a primary_key"),
    "check_on_dropped": ("$.entities[0]", "check not_null names column(s) ['email'], which pii_strategy drop"),
    "masked_cursor": ("$.entities[0]", "cursor column 'email' cannot be masked"),
}


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "crm.json").write_text(json.dumps(VALID))
    for name, data in BROKEN.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    return tmp_path


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_broken_config_gets_its_own_error_naming_file_and_field(config_dir: Path, name: str) -> None:
    result = load_configs(config_dir)
    errors = result.errors_for(f"{name}.json")
    path, message = EXPECTED[name]
    assert any(e.path == path and message in e.message for e in errors), [str(e) for e in errors]
    assert all(e.file.endswith(f"{name}.json") for e in errors)


def test_valid_config_still_loads_beside_broken_ones(config_dir: Path) -> None:
    result = load_configs(config_dir)
    assert list(result.configs) == ["crm"]
    assert {Path(e.file).stem for e in result.errors} == set(EXPECTED)


def test_path_with_parent_segment_is_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data.update(name="files", kind="sftp", conn_id="partner_sftp")
    data["entities"][0]["locator"] = {"kind": "sftp", "remote_path": "inbound/../../etc", "file_pattern": "*.csv"}
    (tmp_path / "files.json").write_text(json.dumps(data))
    errors = load_configs(tmp_path).errors
    assert any(e.path == "$.entities[0].locator.remote_path" and "'..'" in e.message for e in errors)


def test_invalid_json_reports_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"name": "broken",\n  "kind": }')
    (error,) = load_configs(tmp_path).errors
    assert error.path == "line 2 column 11"
    assert "invalid JSON" in error.message


def test_defaults_and_environment_overlay_are_merged_before_validation(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data.pop("owners")
    (tmp_path / "crm.json").write_text(json.dumps(data))
    (tmp_path / "_defaults.json").write_text(json.dumps({"owners": {"primary": "p", "team": "t"}, "tags": ["x"]}))
    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / "prod.json").write_text(
        json.dumps({"*": {"catchup": True}, "crm": {"schedule": "@hourly"}})
    )
    dev = load_configs(tmp_path, env="dev").configs["crm"]
    prod = load_configs(tmp_path, env="prod").configs["crm"]
    assert dev.owners.team == "t"
    assert (dev.catchup, dev.schedule) == (False, "0 * * * *")
    assert (prod.catchup, prod.schedule) == (True, "@hourly")
    assert prod.tags == ("x",)


def test_deep_merge_replaces_lists_and_merges_objects() -> None:
    assert deep_merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "e": 2}) == {
        "a": {"b": 1, "c": [2]},
        "d": 1,
        "e": 2,
    }


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "escaped", "pass\\u0077ord": "x"}',  # a \\u-escaped key must not slip past the fast pre-check
        '{"name": "spaced", "extra": {"API_KEY"  :  "x"}}',
    ],
)
def test_credential_keys_are_found_however_they_are_written(tmp_path: Path, raw: str) -> None:
    name = json.loads(raw)["name"]
    (tmp_path / f"{name}.json").write_text(raw)
    errors = load_configs(tmp_path, "dev").errors
    # The credential first, then the file's other errors (this file has little else); none repeats the credential.
    credential = errors[0]
    assert credential.message.startswith("looks like a credential")
    assert [e for e in errors if e.path.startswith(credential.path)] == [credential]
    assert any(e.path == "$.owners" and e.message == "Field required" for e in errors)


def test_a_credential_is_listed_with_the_files_other_errors_never_its_value(tmp_path: Path) -> None:
    # Defect: a credential-looking key made the loader report that error alone; the file's other errors showed up
    # only once it was fixed. Now every error of the file is listed together, each by file and JSON path.
    data = copy.deepcopy(VALID)
    data["token"] = "tok-Value-0x41"
    data["entities"][0]["locator"]["api_key"] = {"nested": "key-Value-0x41"}
    data["description"] = "see postgresql://u:uri-Value-0x41@db:5432/x"
    data["schedule"] = "61 * * * *"
    del data["owners"]
    data["entities"][0]["columns"][1]["pii_strategy"] = None
    (tmp_path / "crm.json").write_text(json.dumps(data))

    result = load_configs(tmp_path, "dev")

    assert result.configs == {}
    assert {(e.path, e.message.split(":")[0].split(" (")[0]) for e in result.errors} == {
        ("$.token", "looks like a credential"),
        ("$.entities[0].locator.api_key", "looks like a credential"),
        ("$.description", "looks like a URI with a password"),
        ("$.schedule", "'61 * * * *' is not a valid cron expression"),
        ("$.owners", "Field required"),
        ("$.entities[0].columns[1]", "column 'email' is marked pii but has no pii_strategy"),
    }
    assert all(Path(e.file).name == "crm.json" for e in result.errors)
    assert "Value-0x41" not in "\n".join(str(e) for e in result.errors)


def test_a_file_whose_only_problem_is_a_credential_is_still_not_loaded(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["description"] = "mirror of postgresql://u:pw-Value-0x41@db:5432/x"  # any text passes validation
    (tmp_path / "crm.json").write_text(json.dumps(data))
    result = load_configs(tmp_path, "dev")
    assert result.configs == {}
    assert [(e.path, e.message.split(":")[0]) for e in result.errors] == [
        ("$.description", "looks like a URI with a password")
    ]
    assert "Value-0x41" not in str(result.errors[0])


def test_unknown_column_type_is_refused_at_load(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["entities"][0]["columns"][0]["type"] = "money"
    (tmp_path / "crm.json").write_text(json.dumps(data))
    (error,) = load_configs(tmp_path, "dev").errors
    assert error.path == "$.entities[0].columns[0].type"
    assert error.message.startswith("unknown column type 'money'")


def test_entities_sharing_a_topic_are_refused_by_file_and_field_others_still_load(tmp_path: Path) -> None:
    # Defect: two sources with a fixed topic published to one topic; the publish log was per topic and keyed by run
    # id, so on the same schedule each skipped the other's runs. Now a topic has one writer, checked at validate.
    def fixed_topic(topic: str) -> Any:
        return _set(["kafka"], {"topic_template": topic})

    configs = dict(
        [
            _variant("billing", fixed_topic("orders")),
            _variant("shop", lambda d: d["entities"][0].update(kafka={"topic_template": "orders"})),
            _variant("dots", fixed_topic("ingest.x.y")),
            _variant("underscores", fixed_topic("ingest_x_y")),  # Kafka refuses names equal up to '.' vs '_'
            _variant("fine", lambda d: None),
        ]
    )
    for name, data in configs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))

    result = load_configs(tmp_path)

    assert sorted(result.configs) == ["fine"]
    by_file = {Path(e.file).stem: e for e in result.errors}
    assert sorted(by_file) == ["billing", "dots", "shop", "underscores"]
    assert by_file["billing"].path == "$.kafka.topic_template"
    assert by_file["shop"].path == "$.entities[0].kafka.topic_template"
    assert "billing.customers publishes to topic 'orders', and so does shop.customers" in by_file["billing"].message
    assert "shop.json" in by_file["billing"].message
    assert "underscores.customers (topic 'ingest_x_y' in underscores.json)" in by_file["dots"].message


def test_one_source_with_a_fixed_topic_for_two_entities_is_refused(tmp_path: Path) -> None:
    def two_entities_one_topic(data: dict[str, Any]) -> None:
        data["kafka"] = {"topic_template": "crm.all"}
        data["entities"].append({**copy.deepcopy(data["entities"][0]), "name": "prospects"})

    name, data = _variant("crm", two_entities_one_topic)
    (tmp_path / f"{name}.json").write_text(json.dumps(data))
    result = load_configs(tmp_path)
    assert result.configs == {}
    assert [e.path for e in result.errors] == ["$.kafka.topic_template", "$.kafka.topic_template"]
