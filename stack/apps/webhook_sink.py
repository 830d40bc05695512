"""Webhook sink that records Teams and Slack posts so alert tests can read them back.

``POST /hooks/<channel>`` records the JSON body and answers like the real service would (Slack: ``ok``,
Teams Workflows: 202). ``GET /_posts?channel=`` lists what was recorded, ``DELETE /_posts`` clears it, and
``POST /_control/faults`` makes the next posts fail, to test that a failed alert never fails a pipeline.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

app = FastAPI(title="Webhook sink", version="1.0")
_lock = threading.Lock()
_posts: list[dict[str, Any]] = []
_faults: list[dict[str, int]] = []


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/hooks/{channel}")
async def receive(channel: str, request: Request) -> Response:
    raw = await request.body()
    try:
        body: Any = await request.json()
    except ValueError:
        body = raw.decode("utf-8", errors="replace")
    with _lock:
        if _faults:
            fault = _faults[0]
            fault["remaining"] -= 1
            if fault["remaining"] <= 0:
                _faults.pop(0)
            return JSONResponse({"error": "injected failure"}, status_code=fault["status"])
        _posts.append(
            {
                "seq": len(_posts) + 1,
                "channel": channel,
                "received_at": datetime.now(UTC).isoformat(),
                "content_type": request.headers.get("content-type"),
                "body": body,
            }
        )
    if channel.startswith("slack"):
        return PlainTextResponse("ok")
    return Response(status_code=202)


@app.get("/_posts")
def list_posts(channel: str | None = None) -> list[dict[str, Any]]:
    with _lock:
        return [p for p in _posts if channel is None or p["channel"] == channel]


@app.delete("/_posts")
def clear_posts() -> dict[str, int]:
    with _lock:
        cleared = len(_posts)
        _posts.clear()
        _faults.clear()
    return {"cleared": cleared}


@app.post("/_control/faults")
def add_fault(body: dict[str, Any]) -> dict[str, int]:
    with _lock:
        _faults.append({"status": int(body.get("status", 500)), "remaining": int(body.get("count", 1))})
        return {"faults": len(_faults)}
