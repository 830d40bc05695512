"""Sample REST API standing in for a real source system in tests and the demo.

Serves paginated order records with an ``updated_at`` cursor behind token auth (bearer, API key, basic or
OAuth2 client credentials; every secret is the one local token). ``updated_since`` is inclusive: records updated
at exactly that time are served, as a client that resumes from its last high mark needs (records written later
with the same time would otherwise never be seen). Tests steer it through
``/_control/*``: inject 429 (with Retry-After) or 5xx answers, or answers whose connection closes in the middle of
the body (``{"kind": "truncate"}``), and upsert records to simulate source changes. ``/v1/hostile/*`` serves the
bodies a hostile or broken API could send (a page of any size, gzip-encoded or not; JSON nested to any depth),
generated as they stream, so a test asks for gigabytes without either side holding them.
State is in memory: restarting the process resets it, and so does ``POST /_control/reset``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

API_TOKEN = os.environ.get("SAMPLE_API_TOKEN", "sample-token")
SEED_RECORDS = int(os.environ.get("SAMPLE_API_RECORDS", "250"))
MAX_PAGE_SIZE = 100
BASIC_USER = "sample-user"
OAUTH_CLIENT_ID = "sample-client"

app = FastAPI(title="Sample orders API", version="1.0")
_lock = threading.Lock()


def _seed_orders(count: int) -> dict[int, dict[str, Any]]:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    statuses = ["new", "paid", "shipped", "cancelled"]
    cities = [("Berlin", "DE"), ("São Paulo", "BR"), ("Zürich", "CH"), ("東京", "JP"), ("Lagos", "NG")]
    orders = {}
    for i in range(1, count + 1):
        city, country = cities[i % len(cities)]
        orders[i] = {
            "id": i,
            "customer_id": 1 + i % 40,
            "status": statuses[i % len(statuses)],
            "amount": f"{(i * 7.31) % 900:.2f}",
            "currency": "EUR",
            "shipping": {"city": city, "country": country},
            "items": [{"sku": f"SKU-{i % 9:04d}", "qty": 1 + i % 3}],
            "updated_at": (base + timedelta(minutes=5 * i)).isoformat().replace("+00:00", "Z"),
        }
    return orders


class _State:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.orders = _seed_orders(SEED_RECORDS)
        # Each fault is {"kind": "status" | "truncate", "status": int, "remaining": int, "retry_after": int | None}.
        self.faults: list[dict[str, Any]] = []
        self.requests_served = 0
        self.oauth_tokens: dict[str, float] = {}
        self.oauth_ttl = 3600
        self.tokens_issued = 0
        self.page_size_seen = 0


state = _State()


def _take_fault() -> dict[str, Any] | None:
    with _lock:
        state.requests_served += 1
        if not state.faults:
            return None
        fault = state.faults[0]
        fault["remaining"] -= 1
        if fault["remaining"] <= 0:
            state.faults.pop(0)
        return fault


def require_token(
    authorization: str | None = Header(default=None),
    x_api_key: str | None = Header(default=None),
    api_key: str | None = Query(default=None),
) -> None:
    """Any of the ways real APIs take credentials: a bearer token (the static one or an OAuth2 token from
    /oauth/token), an API key in X-API-Key or the api_key parameter, or basic auth as sample-user."""
    if authorization and authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ")
        if token == API_TOKEN:
            return
        with _lock:
            expires = state.oauth_tokens.get(token)
        if expires is not None and expires > time.monotonic():
            return
        raise HTTPException(status_code=401, detail="invalid or expired bearer token")
    if authorization and authorization.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            user, password = "", ""
        if user == BASIC_USER and password == API_TOKEN:
            return
    if API_TOKEN in (x_api_key, api_key):
        return
    raise HTTPException(status_code=401, detail="invalid or missing credentials")


@app.post("/oauth/token")
def oauth_token(
    grant_type: str = Form(...), client_id: str = Form(""), client_secret: str = Form("")
) -> dict[str, Any]:
    """OAuth2 client credentials; tokens live `state.oauth_ttl` seconds (tests shorten it to force refreshes)."""
    if grant_type != "client_credentials":
        raise HTTPException(status_code=400, detail="unsupported_grant_type")
    if client_id != OAUTH_CLIENT_ID or client_secret != API_TOKEN:
        raise HTTPException(status_code=401, detail="invalid_client")
    token = secrets.token_urlsafe(24)
    with _lock:
        state.oauth_tokens[token] = time.monotonic() + state.oauth_ttl
        state.tokens_issued += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": state.oauth_ttl}


@app.middleware("http")
async def inject_faults(request: Request, call_next: Any) -> Any:
    if request.url.path.startswith("/v1/"):
        fault = _take_fault()
        if fault is not None and fault.get("kind") == "truncate":
            return await _truncated(await call_next(request))
        if fault is not None:
            headers = {}
            if fault.get("retry_after") is not None:
                headers["Retry-After"] = str(fault["retry_after"])
            return JSONResponse({"error": f"injected {fault['status']}"}, status_code=fault["status"], headers=headers)
    return await call_next(request)


async def _truncated(response: Any) -> StreamingResponse:
    """The real answer with its full Content-Length, but the connection closes halfway through the body."""
    body = b"".join([chunk async for chunk in response.body_iterator])

    async def half_then_close() -> Any:
        yield body[: len(body) // 2]
        raise ConnectionResetError("injected: connection closed mid-body")

    headers = {"content-length": str(len(body)), "content-type": "application/json"}
    return StreamingResponse(half_then_close(), status_code=response.status_code, headers=headers)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=f"updated_since is not an ISO-8601 timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        raise HTTPException(status_code=400, detail="updated_since needs a time zone")
    return parsed


@app.get("/v1/orders", dependencies=[Depends(require_token)])
def list_orders(
    request: Request,
    response: Response,
    page: int | None = Query(None, ge=1),
    page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
    offset: int | None = Query(None, ge=0),
    limit: int | None = Query(None, ge=1, le=MAX_PAGE_SIZE),
    cursor: str | None = None,
    updated_since: str | None = None,
) -> dict[str, Any]:
    """One list, every paging style at once: page/page_size, offset/limit, an opaque cursor (meta.next_cursor),
    a next link in the body (links.next) and in the Link header. Clients follow the one they are configured for."""
    since = _parse_since(updated_since)
    with _lock:
        rows = sorted(state.orders.values(), key=lambda r: (str(r.get("updated_at")), str(r.get("id"))))
        state.page_size_seen = max(state.page_size_seen, limit or page_size)
    if since is not None:
        rows = [r for r in rows if _at_or_after(r, since)]
    size = limit or page_size
    if cursor is not None:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
        except ValueError:
            raise HTTPException(status_code=400, detail="invalid cursor") from None
    elif offset is not None:
        start = offset
    else:
        start = ((page or 1) - 1) * size
    chunk = rows[start : start + size]
    has_more = start + size < len(rows)
    next_start = start + size
    next_link = None
    if has_more:
        query = {k: v for k, v in request.query_params.items() if k not in ("page", "offset", "cursor")}
        query["cursor"] = base64.urlsafe_b64encode(str(next_start).encode()).decode()
        next_link = str(request.url.replace(query=urlencode(query)))
        response.headers["Link"] = f'<{next_link}>; rel="next"'
    return {
        "data": chunk,
        "meta": {
            "page": page or 1 + start // size,
            "page_size": size,
            "total": len(rows),
            "next_page": (page or 1) + 1 if has_more else None,
            "next_cursor": base64.urlsafe_b64encode(str(next_start).encode()).decode() if has_more else None,
        },
        "links": {"next": next_link},
    }


def _at_or_after(record: dict[str, Any], since: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(record["updated_at"]).replace("Z", "+00:00")) >= since
    except (KeyError, ValueError):
        return True  # a malformed record is served as it is: clients must cope


# One record of a hostile page: an order with a filler note, 500 bytes of JSON with the comma after it.
_HOSTILE_RECORD = json.dumps(
    {"id": 1, "customer_id": 1, "status": "new", "amount": "1.00", "updated_at": "2026-11-01T00:00:00Z", "note": ""},
    separators=(",", ":"),
).encode()
_HOSTILE_RECORD = _HOSTILE_RECORD.replace(b'"note":""', b'"note":"' + b"x" * (499 - len(_HOSTILE_RECORD)) + b'"')
_STREAM_CHUNK_BYTES = 1 << 20


def _huge_page(size: int) -> tuple[Iterator[bytes], int]:
    """`{"data": [record, record, ...]}` of about `size` bytes (at least one record), and its exact length."""
    prefix, suffix, unit = b'{"data":[', b"]}", _HOSTILE_RECORD + b","
    count = max(1, (size - len(prefix) - len(suffix) + 1) // len(unit))
    per_chunk = max(1, _STREAM_CHUNK_BYTES // len(unit))

    def chunks() -> Iterator[bytes]:
        yield prefix
        left, block = count, unit * per_chunk
        while left > per_chunk:
            yield block
            left -= per_chunk
        yield (unit * left)[:-1]  # no comma after the last record
        yield suffix

    return chunks(), len(prefix) + count * len(unit) - 1 + len(suffix)


def _nested(depth: int) -> Iterator[bytes]:
    """`{"data": [[[...]]]}`: a record list whose first record is a list nested `depth` deep."""
    yield b'{"data":['
    for bracket in (b"[", b"]"):
        left = depth
        while left > 0:
            step = min(left, _STREAM_CHUNK_BYTES)
            yield bracket * step
            left -= step
    yield b"]}"


def _gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip stream, as Content-Encoding: gzip means
    for chunk in chunks:
        if packed := compressor.compress(chunk):
            yield packed
    yield compressor.flush()


@app.get("/v1/hostile/page", dependencies=[Depends(require_token)])
def hostile_page(
    size: int = Query(..., ge=1, le=1 << 40, description="bytes of JSON"),
    declare_length: bool = Query(False, description="send Content-Length (else the body is chunked)"),
    gzip: bool = Query(False, description="Content-Encoding: gzip (the size is the decoded size)"),
) -> StreamingResponse:
    """One page of about `size` bytes, every record alike, with no next page in any style."""
    chunks, length = _huge_page(size)
    headers = {"content-type": "application/json"}
    if gzip:
        chunks = _gzipped(chunks)
        headers["content-encoding"] = "gzip"
    elif declare_length:
        headers["content-length"] = str(length)
    return StreamingResponse(chunks, headers=headers)


@app.get("/v1/hostile/nested", dependencies=[Depends(require_token)])
def hostile_nested(depth: int = Query(..., ge=1, le=1 << 34)) -> StreamingResponse:
    """A JSON nesting bomb: a valid JSON document whose one record is a list nested `depth` deep."""
    return StreamingResponse(_nested(depth), headers={"content-type": "application/json"})


@app.post("/_control/faults")
def add_fault(body: dict[str, Any]) -> dict[str, Any]:
    status = int(body.get("status", 500))
    count = int(body.get("count", 1))
    kind = str(body.get("kind", "status"))
    with _lock:
        state.faults.append(
            {"kind": kind, "status": status, "remaining": count, "retry_after": body.get("retry_after")}
        )
        return {"faults": state.faults}


@app.post("/_control/oauth")
def set_oauth(body: dict[str, Any]) -> dict[str, int]:
    """Shorten (or restore) the lifetime of the OAuth2 tokens issued from now on."""
    with _lock:
        state.oauth_ttl = int(body.get("ttl", 3600))
        return {"ttl": state.oauth_ttl}


@app.post("/_control/upsert")
def upsert(body: dict[str, Any]) -> dict[str, int]:
    with _lock:
        for record in body["records"]:
            state.orders[int(record["id"])] = record
        return {"count": len(state.orders)}


@app.post("/_control/reset")
def reset() -> dict[str, str]:
    with _lock:
        state.reset()
    return {"status": "reset"}


@app.get("/_control/stats")
def stats() -> dict[str, int]:
    with _lock:
        return {
            "records": len(state.orders),
            "requests_served": state.requests_served,
            "faults": len(state.faults),
            "tokens_issued": state.tokens_issued,
        }
