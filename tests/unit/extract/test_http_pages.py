"""Paging an API that does not honour its paging parameters fails at once, naming the page, not after max_pages.

The client here is a script of bodies (a pure unit test of the paging loop); tests/integration/extract runs the
paging styles against the sample API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ingestion.config.models import HttpLocator, Pagination
from ingestion.extract.errors import PagingLoopError
from ingestion.extract.http_pages import pages


class _Response:
    def __init__(self, links: dict[str, dict[str, str]]) -> None:
        self.links = links


class ScriptedApi:
    """Answers each GET with body(n), n counting from 1; records the requests."""

    def __init__(self, body: Callable[[int], Any], links: Callable[[int], dict[str, dict[str, str]]] | None = None):
        self.body, self.links, self.requests = body, links or (lambda n: {}), []  # type: ignore[var-annotated]

    def get(self, target: str, params: dict[str, Any] | None) -> tuple[Any, _Response]:
        self.requests.append((target, params))
        n = len(self.requests)
        return self.body(n), _Response(self.links(n))


def _walk(api: ScriptedApi, **paging: Any) -> list[int]:
    locator = HttpLocator(endpoint="/v1/orders", pagination=Pagination(**paging))
    return [len(page.records) for page in pages(api, locator, {}, where="api.orders")]  # type: ignore[arg-type]


def _records(n: int, size: int = 3) -> list[dict[str, int]]:
    return [{"id": n * 100 + i} for i in range(size)]


def test_a_cursor_the_api_gave_before_fails_at_the_page_that_repeats_it() -> None:
    # Page 3 hands back page 1's cursor: without the check, pages 2 and 3 would repeat until max_pages (10,000).
    tokens = {1: "a", 2: "b", 3: "a"}
    api = ScriptedApi(lambda n: {"data": _records(n), "next_cursor": tokens[n]})
    with pytest.raises(PagingLoopError, match=r"api.orders: page 3 gave the same next cursor as page 1"):
        _walk(api, style="cursor")
    assert len(api.requests) == 3


@pytest.mark.parametrize("style", ["next_url", "link_header"])
def test_a_next_link_the_api_gave_before_fails_at_once(style: str) -> None:
    link = "/v1/orders?after=2"
    api = ScriptedApi(
        lambda n: {"data": _records(n), "next": link},
        lambda n: {"next": {"url": link}},
    )
    with pytest.raises(PagingLoopError, match=r"page 2 gave the same next link as page 1"):
        _walk(api, style=style)
    assert len(api.requests) == 2


@pytest.mark.parametrize("style", ["page_number", "offset"])
def test_an_api_that_ignores_the_page_parameter_fails_on_the_third_identical_page(style: str) -> None:
    api = ScriptedApi(lambda n: {"data": _records(1)})  # the same three records, whatever is asked
    with pytest.raises(PagingLoopError, match=r"pages 1 to 3 hold the same records"):
        _walk(api, style=style)
    assert len(api.requests) == 3


def test_pages_that_differ_and_a_repeated_single_record_page_are_read_to_the_end() -> None:
    # Two identical pages in a row can be real data (the same row twice, page_size 1): only three in a row, of more
    # than one record each, are taken for an API that ignores the parameter.
    same_row = ScriptedApi(lambda n: {"data": [{"id": 1}] if n <= 4 else []})
    assert _walk(same_row, style="page_number", page_size=1) == [1, 1, 1, 1, 0]
    changing = ScriptedApi(lambda n: {"data": _records(n) if n <= 3 else []})
    assert _walk(changing, style="offset") == [3, 3, 3, 0]
    cursors = ScriptedApi(lambda n: {"data": _records(n), "next_cursor": f"t{n}" if n < 4 else None})
    assert _walk(cursors, style="cursor") == [3, 3, 3, 3]
