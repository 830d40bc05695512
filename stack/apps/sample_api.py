"""Sample REST API standing in for a real source system in tests and the demo.

Serves paginated order records with an ``updated_at`` cursor behind bearer-token auth. Tests steer it through
``/_control/*``: inject 429 (with Retry-After) or 5xx answers, and upsert records to simulate source changes.
State is in memory: restarting the process resets it, and so does ``POST /_control/reset``.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

API_TOKEN = os.environ.get("SAMPLE_API_TOKEN", "sample-token")
SEED_RECORDS = int(os.environ.get("SAMPLE_API_RECORDS", "250"))
MAX_PAGE_SIZE = 100

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
        # Each fault is {"status": int, "remaining": int, "retry_after": int | None}.
        self.faults: list[dict[str, Any]] = []
        self.requests_served = 0


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


def require_token(authorization: str | None = Header(default=None)) -> None:
    if authorization != f"Bearer {API_TOKEN}":
        raise HTTPException(status_code=401, detail="invalid or missing bearer token")


@app.middleware("http")
async def inject_faults(request: Request, call_next: Any) -> Any:
    if request.url.path.startswith("/v1/"):
        fault = _take_fault()
        if fault is not None:
            headers = {}
            if fault.get("retry_after") is not None:
                headers["Retry-After"] = str(fault["retry_after"])
            return JSONResponse({"error": f"injected {fault['status']}"}, status_code=fault["status"], headers=headers)
    return await call_next(request)


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
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
    updated_since: str | None = None,
) -> dict[str, Any]:
    since = _parse_since(updated_since)
    with _lock:
        rows = sorted(state.orders.values(), key=lambda r: (r["updated_at"], r["id"]))
    if since is not None:
        rows = [r for r in rows if datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00")) > since]
    start = (page - 1) * page_size
    chunk = rows[start : start + page_size]
    has_more = start + page_size < len(rows)
    return {
        "data": chunk,
        "meta": {"page": page, "page_size": page_size, "total": len(rows), "next_page": page + 1 if has_more else None},
    }


@app.post("/_control/faults")
def add_fault(body: dict[str, Any]) -> dict[str, Any]:
    status = int(body.get("status", 500))
    count = int(body.get("count", 1))
    with _lock:
        state.faults.append({"status": status, "remaining": count, "retry_after": body.get("retry_after")})
        return {"faults": state.faults}


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
        return {"records": len(state.orders), "requests_served": state.requests_served, "faults": len(state.faults)}
