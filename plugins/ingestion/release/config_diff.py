"""What a release changes in the merged source configs: sources and entities added, removed or changed, with the
JSON paths of what changed. Pure: it compares two snapshots (source name -> merged config as JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.config.loader import load_configs

Snapshot = dict[str, dict[str, Any]]
# Paths listed per changed source or entity; more are counted, not listed (a reordered column list is one change).
MAX_PATHS = 12


def snapshot(config_dir: Path, env: str) -> Snapshot:
    """The merged configs (defaults + file + the env overlay) of every valid source, as JSON values."""
    result = load_configs(config_dir, env)
    return {
        name: config.model_dump(mode="json", by_alias=True, exclude={"schema_ref"})
        for name, config in sorted(result.configs.items())
    }


@dataclass(frozen=True)
class SourceChange:
    source: str
    entities_added: tuple[str, ...] = ()
    entities_removed: tuple[str, ...] = ()
    entities_changed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # entity -> changed JSON paths
    source_paths: tuple[str, ...] = ()  # changed source-level JSON paths (outside `entities`)


@dataclass(frozen=True)
class ConfigChanges:
    sources_added: dict[str, tuple[str, ...]] = field(default_factory=dict)  # source -> its entities
    sources_removed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources_changed: tuple[SourceChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.sources_added or self.sources_removed or self.sources_changed)

    def as_json(self) -> dict[str, Any]:
        return {
            "sources_added": {name: list(entities) for name, entities in self.sources_added.items()},
            "sources_removed": {name: list(entities) for name, entities in self.sources_removed.items()},
            "sources_changed": [
                {
                    "source": change.source,
                    "entities_added": list(change.entities_added),
                    "entities_removed": list(change.entities_removed),
                    "entities_changed": {name: list(paths) for name, paths in change.entities_changed.items()},
                    "source_paths": list(change.source_paths),
                }
                for change in self.sources_changed
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConfigChanges:
        """The changes as a release record stores them (`as_json`); an empty dict is no change."""
        return cls(
            sources_added={name: tuple(ents) for name, ents in data.get("sources_added", {}).items()},
            sources_removed={name: tuple(ents) for name, ents in data.get("sources_removed", {}).items()},
            sources_changed=tuple(
                SourceChange(
                    source=change["source"],
                    entities_added=tuple(change["entities_added"]),
                    entities_removed=tuple(change["entities_removed"]),
                    entities_changed={name: tuple(paths) for name, paths in change["entities_changed"].items()},
                    source_paths=tuple(change["source_paths"]),
                )
                for change in data.get("sources_changed", [])
            ),
        )

    def lines(self) -> list[str]:
        """One line per source added, removed or changed (and per entity changed), for logs and summaries."""
        out = [f"+ source {name} (entities: {', '.join(ents)})" for name, ents in self.sources_added.items()]
        out += [f"- source {name} (entities: {', '.join(ents)})" for name, ents in self.sources_removed.items()]
        for change in self.sources_changed:
            out.append(f"~ source {change.source}")
            if change.source_paths:
                out.append(f"    settings: {', '.join(change.source_paths)}")
            out += [f"    + entity {name}" for name in change.entities_added]
            out += [f"    - entity {name}" for name in change.entities_removed]
            out += [f"    ~ entity {name}: {', '.join(paths)}" for name, paths in change.entities_changed.items()]
        return out or ["no source config changed"]


def _paths(old: Any, new: Any, at: str = "$") -> list[str]:
    """JSON paths where `old` and `new` differ (a whole list when its items differ)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                found += _paths(old.get(key, _MISSING), new.get(key, _MISSING), f"{at}.{key}")
        return found
    return [] if old == new else [at]


_MISSING = object()


def _capped(paths: list[str]) -> tuple[str, ...]:
    if len(paths) <= MAX_PATHS:
        return tuple(paths)
    return (*paths[:MAX_PATHS], f"and {len(paths) - MAX_PATHS} more")


def _entities(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(entity["name"]): entity for entity in config.get("entities", [])}


def _source_change(name: str, old: dict[str, Any], new: dict[str, Any]) -> SourceChange | None:
    old_entities, new_entities = _entities(old), _entities(new)
    changed = {
        entity: _capped(_paths(old_entities[entity], new_entities[entity]))
        for entity in sorted(set(old_entities) & set(new_entities))
        if old_entities[entity] != new_entities[entity]
    }
    settings = _paths(
        {k: v for k, v in old.items() if k != "entities"}, {k: v for k, v in new.items() if k != "entities"}
    )
    change = SourceChange(
        source=name,
        entities_added=tuple(sorted(set(new_entities) - set(old_entities))),
        entities_removed=tuple(sorted(set(old_entities) - set(new_entities))),
        entities_changed=changed,
        source_paths=_capped(settings),
    )
    if change.entities_added or change.entities_removed or change.entities_changed or change.source_paths:
        return change
    return None


def diff(old: Snapshot, new: Snapshot) -> ConfigChanges:
    """What changes from the configs running (`old`) to the release's (`new`)."""
    changed = [
        change
        for name in sorted(set(old) & set(new))
        if old[name] != new[name] and (change := _source_change(name, old[name], new[name])) is not None
    ]
    return ConfigChanges(
        sources_added={name: tuple(sorted(_entities(new[name]))) for name in sorted(set(new) - set(old))},
        sources_removed={name: tuple(sorted(_entities(old[name]))) for name in sorted(set(old) - set(new))},
        sources_changed=tuple(changed),
    )
