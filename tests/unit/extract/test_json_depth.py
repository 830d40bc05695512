"""The nesting-depth check that runs before any JSON parser: exact on valid JSON, strings and escapes included."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ingestion.extract.json_depth import nests_deeper_than


def _depth(value: Any) -> int:
    """The reference: levels of arrays and objects, by walking the parsed value (shallow test data only)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.choice(["list", "dict", "text", "number"] if depth < 12 else ["text", "number"])
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        return {
            rng.choice(["a", "[", "}{", '"q', "\\"]): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))
        }
    if kind == "text":
        return "".join(rng.choice(["[", "]", "{", "}", '"', "\\", "x", "é", "\n"]) for _ in range(rng.randint(0, 6)))
    return rng.random()


def test_agrees_with_a_walk_of_the_parsed_value_on_random_documents() -> None:
    rng = random.Random(20261202)
    for _ in range(2000):
        value = _random_value(rng, 0)
        document = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        depth = _depth(value)
        for limit in (max(depth - 1, 0), depth, depth + 1):
            assert nests_deeper_than(document, limit) == (depth > limit), (document, limit)


@pytest.mark.parametrize(
    ("document", "depth"),
    [
        (b"[]", 1),
        (b'{"a": [[1], {"b": {}}]}', 4),
        (b'["[[[[[[[[", "]]]]"]', 1),  # brackets inside strings do not count
        (b'["\\"[[[[", [[]]]', 3),  # an escaped quote does not end the string
        (b'["\\\\", [[]]]', 3),  # an escaped backslash does not escape the closing quote
        (b'["\\\\\\"[[[", []]', 2),  # an escaped backslash, then an escaped quote: still inside the string
        (b"[[]" * 40 + b"]" * 40, 41),  # climbs one level every three bytes: no run of `[` gives it away
    ],
)
def test_exact_on_awkward_documents(document: bytes, depth: int) -> None:
    assert not nests_deeper_than(document, depth)
    assert nests_deeper_than(document, depth - 1)


def test_a_nesting_bomb_of_megabytes_is_found_without_recursion() -> None:
    bomb = b'{"data": [' + b"[" * 5_000_000 + b"]" * 5_000_000 + b"]}"
    assert nests_deeper_than(bomb, 64)
    staircase = b"[[]" * 3_000_000 + b"]" * 3_000_000  # 3,000,001 deep: the running sum, across blocks
    assert nests_deeper_than(staircase, 3_000_000)
    assert not nests_deeper_than(staircase, 3_000_001)


def test_a_page_of_many_shallow_records_passes() -> None:
    page = json.dumps({"data": [{"id": i, "tags": ["a", "[b"], "meta": {"k": "}"}} for i in range(20_000)]})
    assert not nests_deeper_than(page.encode(), 4)  # body, list, record, tags
    assert nests_deeper_than(page.encode(), 3)
