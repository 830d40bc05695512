"""Draft a REST entity from sample pages, through the source's Airflow connection (extract/http_client.py, as the DAG
calls the API): the paging style guessed from the first answer's headers and body, then records flattened as the
loader flattens them (extract/record_typing.split_record) and typed from their values.
"""

from __future__ import annotations

from typing import Any

from ingestion.onboarding.draft import (
    DraftEntity,
    columns_from_records,
    entity_name,
    guess_cursor,
    guess_primary_key,
    suggest_all_pii,
)
from ingestion.onboarding.errors import ScaffoldError

SAMPLE_PAGES = 3
# Where APIs put the next page's URL, and the next page's token, in the body (dotted paths), most common first.
NEXT_URL_PATHS = ("next", "links.next", "_links.next.href", "paging.next", "meta.next", "pagination.next")
CURSOR_PATHS = (
    "next_cursor",
    "meta.next_cursor",
    "pagination.next_cursor",
    "paging.cursors.after",
    "next_page_token",
    "nextPageToken",
    "cursor",
)
PAGE_PATHS = ("page", "meta.page", "pagination.page", "page_number", "meta.page_number")
OFFSET_PATHS = ("offset", "meta.offset", "pagination.offset")


def guess_pagination(body: Any, links: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The locator's pagination for an answer, and why: a `Link: rel="next"` header first (standard and complete),
    then a next URL in the body, a next-page token, a page number, an offset; otherwise one request."""
    from ingestion.extract.http_pages import dig

    if "next" in links:
        return {"style": "link_header"}, 'paging: the answer has a Link: rel="next" header'
    for path in NEXT_URL_PATHS:
        value = dig(body, path)
        if isinstance(value, str) and value.startswith(("http://", "https://", "/")):
            return {"style": "next_url", "next_url_path": path}, f"paging: the body has a next-page URL at {path}"
    for path in CURSOR_PATHS:
        if isinstance(dig(body, path), str):
            return (
                {"style": "cursor", "cursor_path": path, "cursor_param": "cursor"},
                f"paging: the body has a next-page token at {path}; check the parameter that sends it back "
                "(drafted as cursor)",
            )
    for path in PAGE_PATHS:
        if isinstance(dig(body, path), int):
            return {
                "style": "page_number"
            }, f"paging: the body has a page number at {path} (parameters page, page_size)"
    for path in OFFSET_PATHS:
        if isinstance(dig(body, path), int):
            return {"style": "offset", "size_param": "limit"}, f"paging: the body has an offset at {path}"
    return {"style": "none"}, "paging: no paging seen in the answer: drafted as one request"


def draft_http(conn_id: str, path: str, record_path: str, sample_records: int) -> DraftEntity:
    from ingestion.config.models import HttpLocator, HttpOptions
    from ingestion.extract.http_client import ApiClient
    from ingestion.extract.http_pages import dig, pages
    from ingestion.extract.record_typing import split_record

    where = f"{conn_id} GET {path}"
    client = ApiClient(conn_id, HttpOptions(), where=where)
    try:
        body, response = client.get(path, None)
        first = dig(body, record_path)
        if not isinstance(first, list):
            keys = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
            raise ScaffoldError(f"{where}: no list at record path {record_path!r} (the body has: {keys})")
        pagination, paging_note = guess_pagination(body, dict(response.links))
        locator = {"kind": "http", "endpoint": path, "record_path": record_path, "pagination": pagination}
        records: list[Any] = []
        walk = pages(client, HttpLocator.model_validate(locator), {}, where=where)
        for page in walk:
            records += page.records
            if page.number >= SAMPLE_PAGES or len(records) >= sample_records:
                break
    finally:
        client.close()
    flat = [split_record(r, frozenset())[1] for r in records[:sample_records] if isinstance(r, dict)]
    columns, samples = columns_from_records(flat)
    if not columns:
        raise ScaffoldError(f"{where}: the sampled pages hold no records at {record_path!r} to draft columns from")
    suggest_all_pii(columns, samples)
    primary_key = guess_primary_key(columns, samples)
    cursor, why = guess_cursor(columns, primary_key)
    notes = [
        paging_note,
        f"columns from {len(flat)} sampled record(s); nested fields flattened as parent_child",
        why
        if cursor is None
        else f"{why}; an incremental load also needs locator.incremental_param, the API's "
        "filter parameter: drafted as a full load",
    ]
    if not primary_key:
        notes.append("no primary key found (no unique *id field sampled): name the fields that identify a record")
    return DraftEntity(
        name=entity_name(path.rstrip("/").rpartition("/")[2] or "records"),
        locator=locator,
        columns=columns,
        primary_key=primary_key,
        notes=notes,
    )
