"""Read ahead of the consumer: a source iterator runs in a thread of its own, a few items ahead.

Why: a stage's reading (ADBC decoding Postgres' COPY stream, a blob download and Parquet decode) and its writing
(Parquet encoding and upload, JSON encoding and producing) both spend most of their time in C code that releases
the GIL, so on two cores running them side by side instead of in turn took extract_land of 1M rows from 3.2 s to
2.65 s (bench/README.md). `depth` bounds what is read ahead, so memory stays flat.

The source iterator is created by the caller but advanced (and closed) only by the reading thread. Closing the
returned generator stops the thread and closes the source, so a database cursor or a temp file is released at
once; an exception in the source is raised in the consumer, with its traceback.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.1


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(source: Iterator[T], depth: int = 2, name: str = "prefetch") -> Generator[T, None, None]:
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        """Put the item unless the consumer has gone; False when it has."""
        while not stop.is_set():
            try:
                items.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in source:
                if not offer(item):
                    break
            else:
                offer(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            offer(_Failed(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name=name, daemon=True)
    reader.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()
