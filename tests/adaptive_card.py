"""Checks a Teams card against Microsoft's Adaptive Card JSON schema (draft-06), as the card designer ships it.

scripts/bootstrap.sh saves the schema from the pinned npm package adaptivecards-designer to
.tools/adaptive-card/adaptive-card.schema.json. It describes the card and its elements (required fields, element and
action types, enums such as sizes and colours) and leaves extra properties open, so a 1.4 card is checked
element by element.

One repair: that schema gives `CardElements` (a card's body, a container's items) `items` as a one-entry tuple with
`additionalItems: true`, which checks only the first element. The helper turns such a tuple into the plain
`items` it means, so every element of a body is checked (the FactSet after the title too).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft6Validator

from stack.settings import Settings

# Where bootstrap.sh puts it: the stack's tools dir (STACK_TOOLS_DIR, default .tools).
SCHEMA_PATH = Settings.from_env().tools_dir / "adaptive-card" / "adaptive-card.schema.json"


@functools.cache
def card_validator() -> Draft6Validator:
    if not SCHEMA_PATH.is_file():
        raise FileNotFoundError(f"{SCHEMA_PATH} is missing: run scripts/bootstrap.sh, which fetches it from npm")
    schema = json.loads(SCHEMA_PATH.read_text())
    elements = schema["definitions"]["CardElements"]
    if isinstance(elements.get("items"), list) and len(elements["items"]) == 1:
        elements["items"] = elements["items"][0]
        elements.pop("additionalItems", None)
    Draft6Validator.check_schema(schema)
    return Draft6Validator(schema)


def card_errors(card: dict[str, Any]) -> list[str]:
    """Every way the card breaks the schema, as 'path: message' lines (empty when it is valid)."""
    errors = sorted(card_validator().iter_errors(card), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<card>'}: {e.message}" for e in errors]
