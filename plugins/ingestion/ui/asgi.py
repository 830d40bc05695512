"""The app Airflow mounts, built on its first request: every Airflow process loads plugins (scheduler, dag-processor,
triggerer, task processes), and only the api-server ever serves this one, so the others import nothing of it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    Scope = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
    Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class IngestionApp:
    """An ASGI app that builds ingestion.ui.app's FastAPI app once, when the first request arrives."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _built(self) -> Any:
        with self._lock:
            if self._app is None:
                from ingestion.ui.app import create_app

                self._app = create_app()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # nothing to start or stop; Airflow only runs lifespans of FastAPI apps
            return
        await self._built()(scope, receive, send)
