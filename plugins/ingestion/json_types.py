"""JSON as the platform writes it (XCom, manifests, Asset events), and a reader that turns it back into typed fields.

Typed objects cross stage boundaries; JSON is only how they travel. Each such object writes itself with a
`to_json`/`to_xcom` method and reads itself back through a `JsonReader`, which names the field and the object when a
value is missing or of the wrong type, instead of failing later on a KeyError somewhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

from ingestion.errors import StageResultError

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"


_MISSING = object()


class JsonReader:
    """Typed reads of one JSON object; `what` names it in errors (e.g. "extract_land result")."""

    def __init__(self, data: Mapping[str, JsonValue], what: str) -> None:
        if not isinstance(data, Mapping):
            raise StageResultError(f"{what}: expected a JSON object, got {type(data).__name__}")
        self.data = data
        self.what = what

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def _wrong(self, key: str, expected: str) -> StageResultError:
        value = self.data.get(key)
        return StageResultError(f"{self.what}: field {key!r} should be {expected}, not {type(value).__name__}")

    def _get(self, key: str, default: object) -> object:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise StageResultError(f"{self.what}: field {key!r} is missing")
        return default

    def integer(self, key: str, default: int | object = _MISSING) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "an integer")
        return value

    def optional_integer(self, key: str) -> int | None:
        return None if self.data.get(key) is None else self.integer(key)

    def number(self, key: str, default: float | object = _MISSING) -> float:
        value = self._get(key, default)
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(key, "a number")
        return float(value)

    def flag(self, key: str, default: bool | object = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def text(self, key: str, default: str | object = _MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self._wrong(key, "text")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.text(key)

    def texts(self, key: str, default: Sequence[str] | object = _MISSING) -> tuple[str, ...]:
        value = self._get(key, default)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise self._wrong(key, "a list of text")
        return tuple(value)

    def integers(self, key: str, default: Sequence[int] | object = _MISSING) -> tuple[int, ...]:
        value = self._get(key, default)
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise self._wrong(key, "a list of integers")
        return tuple(value)

    def child(self, key: str) -> JsonReader:
        value = self._get(key, _MISSING)
        if not isinstance(value, Mapping):
            raise self._wrong(key, "an object")
        return JsonReader(value, f"{self.what}.{key}")

    def children(self, key: str, default: Sequence[Mapping[str, JsonValue]] | object = _MISSING) -> list[JsonReader]:
        value = self._get(key, default)
        if not isinstance(value, list | tuple) or not all(isinstance(v, Mapping) for v in value):
            raise self._wrong(key, "a list of objects")
        return [JsonReader(v, f"{self.what}.{key}[{i}]") for i, v in enumerate(value)]

    def raw(self, key: str, default: JsonValue = None) -> JsonValue:
        """The value as it is (for free-form parts such as a check's observed values)."""
        return self.data.get(key, default)
