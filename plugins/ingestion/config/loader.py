"""Load source configs: defaults merged under each file, the environment's overlay on top, then validation.

Each file is validated on its own, so one broken config yields its own errors (file, JSON path, what was expected)
and never hides the others. Reads local files only: safe at DAG parse time.

Across files, one rule: no two entities publish to the same Kafka topic (publishing counts a run's messages on its
topic, so a second writer makes every run of both abort). The configs involved are refused, each naming the others.

Layout of the config folder:
- `<source>.json`: one per source;
- `_defaults.json`: merged under every source;
- `overlays/<env>.json`: `{"*": {...}, "<source>": {...}}` merged on top, env from `INGEST_ENV` (default `dev`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingestion.config.models import (
    SourceConfig,
    SourceKind,
    entity_topic,
    find_secret_keys,
    may_hold_secret_keys,
    topic_template_path,
)

DEFAULTS_FILE = "_defaults.json"
ENV_VAR = "INGEST_ENV"
LOCATOR_KINDS = frozenset(kind.value for kind in SourceKind)


@dataclass(frozen=True)
class ConfigError:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


@dataclass
class LoadResult:
    env: str = "dev"
    configs: dict[str, SourceConfig] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)

    def errors_for(self, file_name: str) -> list[ConfigError]:
        return [e for e in self.errors if Path(e.file).name == file_name]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge of JSON objects; lists and scalars in `override` replace those in `base`."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _json_path(loc: tuple[int | str, ...]) -> str:
    path = "$"
    previous: int | str | None = None
    for part in loc:
        # pydantic puts the union's tag in the location (locator.sql.table); the file has no such key.
        if not (previous == "locator" and part in LOCATOR_KINDS):
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        previous = part
    return path


def _read_json(path: Path, errors: list[ConfigError]) -> tuple[dict[str, Any], str] | None:
    """The parsed object and its raw text, or None after recording why not."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.append(ConfigError(str(path), f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}"))
        return None
    except OSError as exc:
        errors.append(ConfigError(str(path), "$", f"cannot read: {exc}"))
        return None
    if not isinstance(data, dict):
        errors.append(ConfigError(str(path), "$", f"expected a JSON object, got {type(data).__name__}"))
        return None
    return data, text


def current_env() -> str:
    return os.environ.get(ENV_VAR, "dev")


def _object(read: tuple[dict[str, Any], str] | None) -> dict[str, Any]:
    return read[0] if read is not None else {}


def load_configs(config_dir: Path, env: str | None = None, *, only: str | None = None) -> LoadResult:
    """Load every config in `config_dir`, or with `only` just `<only>.json` (a worker building its one DAG)."""
    env = env or current_env()
    result = LoadResult(env=env)
    defaults: dict[str, Any] = {}
    if (config_dir / DEFAULTS_FILE).exists():
        defaults = _object(_read_json(config_dir / DEFAULTS_FILE, result.errors))
    overlay: dict[str, Any] = {}
    overlay_file = config_dir / "overlays" / f"{env}.json"
    if overlay_file.exists():
        overlay = _object(_read_json(overlay_file, result.errors))

    if not config_dir.is_dir():
        result.errors.append(ConfigError(str(config_dir), "$", "config folder does not exist"))
        return result
    if only is not None:
        requested = config_dir / f"{only}.json"
        paths = [requested] if requested.exists() else []  # the glob below only yields files that exist
    else:
        paths = sorted(config_dir.glob("*.json"))
    files: dict[str, str] = {}
    for path in paths:
        if path.name.startswith("_"):
            continue
        read = _read_json(path, result.errors)
        if read is None:
            continue
        raw, text = read
        secrets = find_secret_keys(raw) if may_hold_secret_keys(text) else []
        for secret_path in secrets:
            result.errors.append(
                ConfigError(
                    str(path),
                    secret_path,
                    "looks like a credential: configs name connection ids, "
                    "secrets belong in Airflow connections or the secrets backend",
                )
            )
        if secrets:
            continue
        merged = deep_merge(defaults, raw)
        merged = deep_merge(merged, overlay.get("*", {}))
        merged = deep_merge(merged, overlay.get(str(raw.get("name")), {}))
        try:
            config = SourceConfig.model_validate(merged)
        except ValidationError as exc:
            errors = exc.errors()
            for err in errors:
                if err["type"] == "too_short" and any(
                    other["loc"][: len(err["loc"])] == err["loc"] and len(other["loc"]) > len(err["loc"])
                    for other in errors
                ):
                    continue  # "entities has 0 items" only echoes the entity's own error, already reported
                message = err["msg"].removeprefix("Value error, ")
                if err["type"] not in {"value_error", "assertion_error", "missing"}:
                    message += f" (got {json.dumps(err.get('input'), default=str)[:80]})"
                result.errors.append(ConfigError(str(path), _json_path(tuple(err["loc"])), message))
            continue
        if config.name in result.configs:
            result.errors.append(ConfigError(str(path), "$.name", f"source name {config.name!r} is used twice"))
            continue
        if path.stem != config.name:
            result.errors.append(
                ConfigError(str(path), "$.name", f"name {config.name!r} must match the file name {path.stem!r}")
            )
            continue
        result.configs[config.name] = config
        files[config.name] = str(path)
    if only is None:
        _refuse_shared_topics(result, files)
    return result


def _refuse_shared_topics(result: LoadResult, files: dict[str, str]) -> None:
    """Refuse every config with an entity whose topic another entity also publishes to (see the module docstring).
    Kafka treats `.` and `_` in topic names as the same, so `a.b` and `a_b` collide too."""
    users: dict[str, list[tuple[str, str, str, str]]] = {}  # colliding name -> (source, json path, who, topic)
    for name, config in result.configs.items():
        for index, entity in enumerate(config.entities):
            topic = entity_topic(config, entity)
            users.setdefault(topic.replace(".", "_"), []).append(
                (name, topic_template_path(entity, index), f"{name}.{entity.name}", topic)
            )
    refused: set[str] = set()
    for sharing in users.values():
        if len(sharing) < 2:
            continue
        for name, json_path, who, topic in sharing:
            others = ", ".join(
                f"{other_who} (topic {other_topic!r} in {Path(files[other]).name})"
                for other, _, other_who, other_topic in sharing
                if other_who != who
            )
            result.errors.append(
                ConfigError(
                    files[name],
                    json_path,
                    f"{who} publishes to topic {topic!r}, and so does {others}: every entity needs a topic of its "
                    "own (a second writer makes the per-run message count fail); keep {source} and {entity} in "
                    "topic_template",
                )
            )
            refused.add(name)
    for name in refused:
        del result.configs[name]
