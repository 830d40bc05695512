"""Walk an endpoint's pages in the config's pagination style and yield each page's records.

Styles: `none` (one request), `page_number` and `offset` (until an empty page: a short page is not taken as the
end, since APIs clamp page sizes), `cursor` (a token from the body sent back as a parameter), `next_url` (a URL in
the body), `link_header` (RFC 8288 `Link: <...>; rel="next"`). More than `max_pages` pages fails the run rather than
landing a silently truncated result. An API that hands back a cursor or next link it gave before, or answers three
page numbers or offsets in a row with the same records, fails at once: it is not honouring the paging parameters,
and every further page would only land the same records again, up to `max_pages`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingestion.extract.errors import PageCapExceededError, PagingLoopError, UnexpectedBodyError

if TYPE_CHECKING:
    from ingestion.config.models import HttpLocator
    from ingestion.extract.http_client import ApiClient


@dataclass(frozen=True)
class Page:
    number: int  # 1-based count of pages fetched
    records: list[Any]


def dig(body: Any, path: str) -> Any:
    """The value at a dotted path ("meta.next_cursor"); "" is the body itself; None when a step is missing."""
    value = body
    for step in filter(None, path.split(".")):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def _records(body: Any, locator: HttpLocator, page: int, where: str) -> list[Any]:
    records = dig(body, locator.record_path)
    if records is None and locator.record_path and isinstance(body, dict):
        records = []  # some APIs leave the list out of an empty page
    if not isinstance(records, list):
        raise UnexpectedBodyError(
            f"{where}: page {page} has no list at record_path {locator.record_path!r} "
            f"(found {type(records).__name__}); check the entity's locator"
        )
    return records


def pages(client: ApiClient, locator: HttpLocator, params: dict[str, Any], *, where: str) -> Iterator[Page]:
    """The endpoint's records, page by page. `params` are the window's and the locator's fixed parameters."""
    paging = locator.pagination
    style = paging.style
    base = dict(params)
    if paging.size_param and style in ("page_number", "offset", "cursor"):
        base[paging.size_param] = paging.page_size
    page_no, offset, target = paging.start_page, 0, locator.endpoint
    request: dict[str, Any] | None = base
    if style == "page_number":
        request = {**base, paging.page_param: page_no}
    elif style == "offset":
        request = {**base, paging.offset_param: offset}
    fetched = 0
    loop = _LoopGuard(where)
    while True:
        if fetched >= paging.max_pages:
            raise PageCapExceededError(
                f"{where}: the endpoint still had pages after max_pages={paging.max_pages}; raise "
                "locator.pagination.max_pages if that is expected, or check that the API honours the paging parameters"
            )
        body, response = client.get(target, request)
        fetched += 1
        records = _records(body, locator, fetched, where)
        yield Page(fetched, records)
        if style == "none":
            return
        if style in ("page_number", "offset"):
            loop.same_records(fetched, records)
        if style == "page_number":
            if not records:
                return
            page_no += 1
            request = {**base, paging.page_param: page_no}
        elif style == "offset":
            if not records:
                return
            offset += len(records)
            request = {**base, paging.offset_param: offset}
        elif style == "cursor":
            token = dig(body, paging.cursor_path)
            if token in (None, "") or not records:
                return
            loop.seen("next cursor", str(token), fetched)
            request = {**base, paging.cursor_param: token}
        else:
            link = dig(body, paging.next_url_path) if style == "next_url" else response.links.get("next", {}).get("url")
            if not link:
                return
            loop.seen("next link", str(link), fetched)
            target, request = str(link), None  # a next link carries its own query string


# Identical pages in a row before an API is taken to ignore page_param/offset_param. Two can be real data (a row
# repeated at page_size 1); three of more than one record each cannot, short of an API that ignores the parameter.
_SAME_PAGES = 3


class _LoopGuard:
    """Remembers the cursors and links given so far, and the last page's records, to stop a paging loop at once."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.given: dict[str, int] = {}  # cursor or link -> the page that gave it
        self.previous: list[Any] | None = None
        self.repeats = 1

    def seen(self, what: str, value: str, page: int) -> None:
        first = self.given.setdefault(value, page)
        if first != page:  # never quoted: a cursor or link may carry a token
            raise PagingLoopError(
                f"{self.where}: page {page} gave the same {what} as page {first}: the API is not honouring the "
                "paging parameters, and the next pages would repeat records already read"
            )

    def same_records(self, page: int, records: list[Any]) -> None:
        self.repeats = self.repeats + 1 if len(records) > 1 and records == self.previous else 1
        self.previous = records
        if self.repeats >= _SAME_PAGES:
            raise PagingLoopError(
                f"{self.where}: pages {page - _SAME_PAGES + 1} to {page} hold the same records: the API ignores "
                "the page or offset parameter (check locator.pagination's page_param, offset_param and style)"
            )
