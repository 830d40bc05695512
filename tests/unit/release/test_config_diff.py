"""The config diff a release record carries: sources and entities added, removed or changed, with the JSON paths."""

from __future__ import annotations

import json
from typing import Any

from ingestion.release.config_diff import MAX_PATHS, ConfigChanges, diff, snapshot
from tests.sample_configs import sample_config_dir

CONFIGS = sample_config_dir()


def _source(*entities: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {"name": "s", "schedule": "@daily", **settings, "entities": list(entities)}


def _entity(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "columns": [{"name": "id", "type": "integer"}], **fields}


def test_nothing_changed_says_so() -> None:
    old = {"s": _source(_entity("a"))}
    changes = diff(old, json.loads(json.dumps(old)))
    assert changes.empty
    assert changes.lines() == ["no source config changed"]


def test_sources_added_and_removed_list_their_entities() -> None:
    changes = diff({"gone": _source(_entity("x"))}, {"new": _source(_entity("b"), _entity("a"))})
    assert changes.sources_added == {"new": ("a", "b")}
    assert changes.sources_removed == {"gone": ("x",)}
    assert changes.lines() == ["+ source new (entities: a, b)", "- source gone (entities: x)"]


def test_a_changed_source_names_its_settings_and_entities_by_json_path() -> None:
    old = {"s": _source(_entity("kept"), _entity("dropped"), schedule="@daily")}
    new = {
        "s": _source(_entity("kept", columns=[{"name": "id", "type": "bigint"}]), _entity("fresh"), schedule="@hourly")
    }
    (change,) = diff(old, new).sources_changed
    assert change.source_paths == ("$.schedule",)
    assert change.entities_added == ("fresh",)
    assert change.entities_removed == ("dropped",)
    assert change.entities_changed == {"kept": ("$.columns",)}
    assert diff(old, new).as_json()["sources_changed"][0]["entities_changed"] == {"kept": ["$.columns"]}


def test_many_changed_paths_are_counted_not_listed() -> None:
    old = {"s": _source(_entity("e", **{f"k{i:02}": 0 for i in range(30)}))}
    new = {"s": _source(_entity("e", **{f"k{i:02}": 1 for i in range(30)}))}
    paths = diff(old, new).sources_changed[0].entities_changed["e"]
    assert len(paths) == MAX_PATHS + 1
    assert paths[-1] == f"and {30 - MAX_PATHS} more"


def test_the_snapshot_is_the_merged_config_of_each_source_with_the_overlay() -> None:
    dev, prod = snapshot(CONFIGS, "dev"), snapshot(CONFIGS, "prod")
    assert set(dev) == {"crm", "orders_api", "partner_files"}
    assert "$schema" not in dev["crm"]
    # _defaults.json is merged in: every source has the landing container even where its file does not say it.
    assert all(config["landing"]["container"] for config in dev.values())
    json.dumps(dev)  # JSON values only: the record stores it
    assert diff(dev, prod).empty == (dev == prod)


def test_the_stored_form_reads_back_as_the_same_changes() -> None:
    old = {"s": _source(_entity("kept"), _entity("dropped")), "gone": _source(_entity("x"))}
    new = {"s": _source(_entity("kept", pk=["id"]), schedule="@hourly"), "new": _source(_entity("a"))}
    changes = diff(old, new)
    stored = json.loads(json.dumps(changes.as_json()))
    assert ConfigChanges.from_json(stored) == changes
    assert ConfigChanges.from_json({}).empty
