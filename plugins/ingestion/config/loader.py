"""Load source configs: defaults merged under each file, the environment's overlay on top, then validation.

Each file is validated on its own, so one broken config yields its own errors (file, JSON path, what was expected)
and never hides the others. Reads local files only: safe at DAG parse time. Nothing a config folder holds makes
`load_configs` raise: every file is read by `config_files` (size, encoding and nesting limits), every merged file
(sources, `_defaults.json`, every overlay, not only the current environment's) is checked for credentials, and every
error text is passed through `mask_credentials`.

A value that fails validation is reported in the file it came from: a bad value in `_defaults.json` or an overlay names
that file and its path there, and says which source it was merged into. A shared file that cannot be used (unreadable,
not an object, holding a credential) is never silently left out, since every source would then run with other
settings (another lake connection, no alert channels): the sources that merge it are not loaded, each saying why.

Across files, one rule: no two entities publish to the same Kafka topic (publishing counts a run's messages on its
topic, so a second writer makes every run of both abort). The configs involved are refused, each naming the others.

Layout of the config folder:
- `<source>.json`: one per source;
- `_defaults.json`: merged under every source;
- `overlays/<env>.json`: `{"*": {...}, "<source>": {...}}` merged on top, env from `INGEST_ENV` (default `dev`); a
  key naming no source file of the folder is an error (the sources still load: it changes none of them).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingestion.config.config_files import FileProblem, json_path_step, json_type_name, read_config_file
from ingestion.config.credentials import find_credentials, looks_secret, mask_credentials, without_credentials
from ingestion.config.models import SourceConfig, SourceKind, entity_topic, topic_template_path

DEFAULTS_FILE = "_defaults.json"
OVERLAYS_DIR = "overlays"
ENV_VAR = "INGEST_ENV"
LOCATOR_KINDS = frozenset(kind.value for kind in SourceKind)
# Errors kept per source config: a file with a list of a million wrong values must not become a million-line import
# error (the message is stored in Airflow's database and shown in the UI).
MAX_ERRORS_PER_CONFIG = 50


@dataclass(frozen=True)
class ConfigError:
    file: str
    path: str
    message: str

    def __post_init__(self) -> None:
        # Every error text passes here: a credential that reached a message or a path is masked, and a file name
        # that is not valid UTF-8 is escaped, so the import error can be shown and stored.
        for name in ("file", "path", "message"):
            text = getattr(self, name).encode("utf-8", "backslashreplace").decode("utf-8")
            object.__setattr__(self, name, mask_credentials(text))

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


@dataclass
class LoadResult:
    env: str = "dev"
    configs: dict[str, SourceConfig] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)

    def errors_for(self, file_name: str) -> list[ConfigError]:
        return [e for e in self.errors if Path(e.file).name == file_name]


@dataclass(frozen=True)
class _Layer:
    """One file's part of a source's merged config: `data` sits at `prefix` inside `file`."""

    file: Path
    data: dict[str, Any]
    prefix: tuple[str, ...] = ()


@dataclass
class _Shared:
    """The files merged into every source: `None` data means the file (or the overlay's entry) cannot be used."""

    defaults: dict[str, Any] | None
    defaults_file: Path
    overlay: dict[str, Any] | None
    overlay_file: Path
    bad_overlay_entries: set[str] = field(default_factory=set)

    def blocking(self, name: str) -> list[str]:
        """The shared files that keep source `name` out: merging what is left of them would load other settings."""
        blocked = [self.defaults_file.name] if self.defaults is None else []
        if self.overlay is None or {"*", name} & self.bad_overlay_entries:
            blocked.append(f"{OVERLAYS_DIR}/{self.overlay_file.name}")
        return blocked

    def layers(self, source_file: Path, raw: dict[str, Any], name: str) -> list[_Layer]:
        """The layers of a source, lowest precedence first (call when `blocking(name)` is empty)."""
        overlay = self.overlay or {}
        return [
            _Layer(self.defaults_file, self.defaults or {}),
            _Layer(source_file, raw),
            _Layer(self.overlay_file, overlay.get("*", {}), ("*",)),
            _Layer(self.overlay_file, overlay.get(name, {}), (name,)),
        ]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge of JSON objects; lists and scalars in `override` replace those in `base`."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _file_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """A pydantic error location as keys of the file: pydantic puts the union's tag in the location
    (locator.sql.table); the file has no such key."""
    kept: list[int | str] = []
    previous: int | str | None = None
    for part in loc:
        if not (previous == "locator" and part in LOCATOR_KINDS):
            kept.append(part)
        previous = part
    return tuple(kept)


def _json_path(loc: tuple[int | str, ...]) -> str:
    return "$" + "".join(json_path_step(part) for part in loc)


def _holds(data: Any, loc: tuple[int | str, ...]) -> tuple[bool, Any]:
    """Whether `loc` leads to a value inside `data`, and the value."""
    for part in loc:
        in_object = isinstance(part, str) and isinstance(data, dict) and part in data
        in_array = isinstance(part, int) and isinstance(data, list) and 0 <= part < len(data)
        if not (in_object or in_array):
            return False, None
        data = data[part]
    return True, data


def _supplier(layers: list[_Layer], loc: tuple[int | str, ...], error_type: str) -> _Layer:
    """The layer whose value is the one validated at `loc`: the highest one holding it (lists and scalars replace
    what is below them). A missing field, or an object several files merge into, is the source file's."""
    source = layers[1]
    if error_type == "missing":
        return source
    holders = [layer for layer in reversed(layers) if _holds(layer.data, loc)[0]]
    if not holders:
        return source
    if isinstance(_holds(holders[0].data, loc)[1], dict) and source in holders:
        return source
    return holders[0]


def current_env() -> str:
    return os.environ.get(ENV_VAR, "dev")


# A machine that is not deployed (state/engine.py's LOCAL_DEPLOYMENTS): it plans with the defaults alone, by design.
LOCAL_ENV = "local"


def environments(config_dir: Path) -> list[str]:
    """Every environment with an overlay in the folder."""
    return sorted(p.stem for p in (config_dir / OVERLAYS_DIR).glob("*.json"))


def env_without_overlay(config_dir: Path, env: str) -> str | None:
    """Why planning the folder's sources for `env` is a mistake ("has no overlay ..."), or None: the folder has
    overlays but none for `env`, so a mistyped `prdo` would plan every source with the defaults alone (dev-like
    retries, retention, containers) and say nothing."""
    known = environments(config_dir)
    if env == LOCAL_ENV or not known or env in known:
        return None
    return f"has no overlay {OVERLAYS_DIR}/{env}.json; environments: {', '.join(known)}"


def _read_checked(path: Path, errors: list[ConfigError]) -> dict[str, Any] | None:
    """A config file's object, or None after recording why not (unreadable, not an object, holds a credential)."""
    data = read_config_file(path)
    if isinstance(data, FileProblem):
        errors.append(ConfigError(str(path), data.path, data.message))
        return None
    credentials = find_credentials(data)
    for json_path, why in credentials:
        errors.append(ConfigError(str(path), json_path, why))
    return None if credentials else data


def _read_source(path: Path, errors: list[ConfigError]) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """A source file's object with its credentials masked, and their JSON paths (each recorded as an error), or
    (None, ()) after recording why the file is unreadable. A file holding a credential is never loaded, but it is
    still validated: its other errors are listed with the credential's, not one fix and one reload at a time."""
    data = read_config_file(path)
    if isinstance(data, FileProblem):
        errors.append(ConfigError(str(path), data.path, data.message))
        return None, ()
    credentials = find_credentials(data)
    for json_path, why in credentials:
        errors.append(ConfigError(str(path), json_path, why))
    if not credentials:
        return data, ()
    return without_credentials(data), tuple(json_path for json_path, _ in credentials)


def _read_shared(config_dir: Path, env: str, errors: list[ConfigError]) -> _Shared:
    """`_defaults.json` and every overlay, each read and checked; the current environment's overlay is kept."""
    defaults_file = config_dir / DEFAULTS_FILE
    # lexists: a dangling link named _defaults.json is an error, not a folder without defaults.
    defaults = _read_checked(defaults_file, errors) if os.path.lexists(defaults_file) else {}
    overlay_file = config_dir / OVERLAYS_DIR / f"{env}.json"
    shared = _Shared(defaults, defaults_file, {}, overlay_file)
    # Every overlay, not only this environment's: a credential committed in the prod overlay must fail CI in dev.
    overlay_files = sorted((config_dir / OVERLAYS_DIR).glob("*.json")) if (config_dir / OVERLAYS_DIR).is_dir() else []
    # An entry for no source (a typo: "crn" for "crm") would be ignored, and the setting it was meant for missing.
    sources = {path.stem for path in config_dir.glob("*.json") if not path.name.startswith("_")}
    for path in overlay_files:
        overlay = _read_checked(path, errors)
        bad_entries = set()
        for key, entry in (overlay or {}).items():
            if key != "*" and key not in sources:
                errors.append(ConfigError(str(path), "$" + json_path_step(key), f"no source named {key!r}"))
            if not isinstance(entry, dict):
                errors.append(
                    ConfigError(
                        str(path),
                        "$" + json_path_step(key),
                        f'expected a JSON object of settings ("*" for every source, or a source\'s name), '
                        f"got {json_type_name(entry)}",
                    )
                )
                bad_entries.add(key)
        if path == overlay_file:
            shared.overlay, shared.bad_overlay_entries = overlay, bad_entries
    return shared


def load_configs(config_dir: Path, env: str | None = None, *, only: str | None = None) -> LoadResult:
    """Load every config in `config_dir`, or with `only` just `<only>.json` (a worker building its one DAG)."""
    env = env or current_env()
    result = LoadResult(env=env)
    if not config_dir.is_dir():
        result.errors.append(ConfigError(str(config_dir), "$", "config folder does not exist"))
        return result
    shared = _read_shared(config_dir, env, result.errors)
    if only is not None:
        requested = config_dir / f"{only}.json"
        paths = [requested] if os.path.lexists(requested) else []  # the glob below only yields entries that exist
    else:
        paths = sorted(config_dir.glob("*.json"))
    files: dict[str, str] = {}
    for path in paths:
        if path.name.startswith("_"):
            continue
        raw, credentials = _read_source(path, result.errors)
        if raw is None:
            continue
        name = str(raw.get("name"))
        if blocked := shared.blocking(name):
            result.errors.append(
                ConfigError(str(path), "$", f"not loaded: it merges {' and '.join(blocked)}, which has errors")
            )
            continue
        config = _validate(path, shared.layers(path, raw, name), result.errors, credentials)
        if config is None or credentials:
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


def _validate(
    path: Path, layers: list[_Layer], errors: list[ConfigError], credentials: tuple[str, ...] = ()
) -> SourceConfig | None:
    """The merged config of `path`, or None after recording each error in the file whose value caused it. Errors at
    or under one of `path`'s `credentials` (JSON paths, reported already) are left out: they would only repeat it."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer.data)
    try:
        return SourceConfig.model_validate(merged)
    except ValidationError as exc:
        found = exc.errors()
    except Exception as exc:  # noqa: BLE001 - a validator that raises must cost one config, never the DAG folder
        errors.append(ConfigError(str(path), "$", f"cannot be validated: {type(exc).__name__} in a validator"))
        return None
    kept = [
        err
        for err in found
        # "entities has 0 items" only echoes the entity's own error, reported already
        if not (
            err["type"] == "too_short"
            and any(o["loc"][: len(err["loc"])] == err["loc"] and len(o["loc"]) > len(err["loc"]) for o in found)
        )
    ]
    located = []
    for err in kept:
        loc = _file_loc(tuple(err["loc"]))
        layer = _supplier(layers, loc, err["type"])
        json_path = _json_path((*layer.prefix, *loc))
        if not (layer.file == path and any(_at_or_under(json_path, c) for c in credentials)):
            located.append((err, layer, json_path))
    for err, layer, json_path in located[:MAX_ERRORS_PER_CONFIG]:
        message = err["msg"].removeprefix("Value error, ")
        if _quotes_input(err["type"], loc):
            message += f" (got {json.dumps(err.get('input'), default=str)[:80]})"
        if layer.file != path:
            message += f" (merged into {path.name})"
        errors.append(ConfigError(str(layer.file), json_path, message))
    if len(located) > MAX_ERRORS_PER_CONFIG:
        errors.append(
            ConfigError(
                str(path), "$", f"{len(located) - MAX_ERRORS_PER_CONFIG} more errors not shown (fix these first)"
            )
        )
    return None


def _quotes_input(error_type: str, loc: tuple[int | str, ...]) -> bool:
    """Whether an error's message ends with the value it refused. Not for errors that say it already, nor for an
    unknown key (its value is whatever was pasted there, a password as likely as not: the path names the key), nor
    for a value under a key named like a secret."""
    if error_type in {"value_error", "assertion_error", "missing", "extra_forbidden"}:
        return False
    return not any(isinstance(part, str) and looks_secret(part) for part in loc)


def _at_or_under(json_path: str, parent: str) -> bool:
    return json_path == parent or json_path.startswith((f"{parent}.", f"{parent}["))


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
