"""prefetched(): order kept, errors raised in the consumer, the source closed early, read-ahead bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ingestion.prefetch import prefetched


def test_items_arrive_in_order_and_the_source_is_closed_at_the_end() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed.set()

    assert list(prefetched(source())) == list(range(1000))
    assert closed.is_set()


def test_an_error_in_the_source_is_raised_in_the_consumer_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ConnectionError("source went away")

    items = prefetched(source())
    assert [next(items), next(items)] == [1, 2]
    with pytest.raises(ConnectionError, match="source went away"):
        next(items)


def test_closing_early_stops_reading_and_closes_the_source() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            for i in range(1_000_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    items = prefetched(source(), depth=2)
    assert next(items) == 0
    items.close()  # returns only once the reading thread has stopped
    assert closed.is_set()
    # Read ahead by at most the queue's depth, one item in the reader's hand, and the one taken.
    assert len(produced) <= 1 + 2 + 1


def test_read_ahead_is_bounded_by_depth() -> None:
    produced: list[int] = []
    ahead = threading.Event()

    def source() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            if i == 4:
                ahead.set()
            yield i

    items = prefetched(source(), depth=3)
    assert next(items) == 0
    ahead.wait(timeout=30)  # the reader fills the queue (3) and holds one more (4): it cannot get further
    assert produced == [0, 1, 2, 3, 4]
    assert list(items) == list(range(1, 100))
