"""The publish stage's producing loop (`_produce_all`) without a broker: what it hands `produce`, and the thread switch
interval it sets while producing (bench/README.md: at Python's default the encoder fell behind), put back after."""

from __future__ import annotations

import sys
import time
from typing import Any

import pyarrow as pa
import pytest

from ingestion.publish.kafka_publisher import PRODUCING_SWITCH_INTERVAL, PublishTarget, _produce_all

TARGET = PublishTarget(
    topic="ingest.unit.orders",
    partitions=3,
    replication_factor=1,
    key_columns=("order_id",),
    value_columns=("order_id", "code"),
    headers=(("ingest_run_id", "r1"), ("ingest_source", "unit")),
    run_key="r1",
    expected_rows=5,
)


class RecordingProducer:
    """Records each produce call and the switch interval in force when it was made."""

    def __init__(self) -> None:
        self.produced: list[tuple[Any, ...]] = []
        self.intervals: set[float] = set()

    def produce(self, *args: Any) -> None:
        self.produced.append(args)
        self.intervals.add(sys.getswitchinterval())

    def poll(self, timeout: float) -> int:
        return 0


def batches(fail_after: int | None = None) -> Any:
    for first in (1, 4):
        if fail_after is not None and first > fail_after:
            raise ConnectionError("the landing zone went away")
        ids = list(range(first, min(first + 3, 6)))
        yield pa.RecordBatch.from_pydict({"order_id": ids, "code": [f"c{i}" for i in ids]})


def test_every_row_is_produced_with_its_key_value_and_headers_at_the_producing_switch_interval() -> None:
    before = sys.getswitchinterval()
    producer = RecordingProducer()

    produced = _produce_all(producer, TARGET, batches(), None, time.monotonic() + 60)  # type: ignore[arg-type]

    assert produced == 5
    assert [(call[2], call[1]) for call in producer.produced[:2]] == [
        (b"1", b'{"order_id":1,"code":"c1"}'),
        (b"2", b'{"order_id":2,"code":"c2"}'),
    ]
    assert producer.produced[0][7] == [("ingest_run_id", b"r1"), ("ingest_source", b"unit")]
    (interval,) = producer.intervals
    assert interval == pytest.approx(PRODUCING_SWITCH_INTERVAL)  # CPython keeps it in microseconds
    assert before > PRODUCING_SWITCH_INTERVAL
    assert sys.getswitchinterval() == before


def test_the_switch_interval_is_put_back_when_producing_fails() -> None:
    before = sys.getswitchinterval()
    with pytest.raises(ConnectionError, match="went away"):
        _produce_all(RecordingProducer(), TARGET, batches(fail_after=3), None, time.monotonic() + 60)  # type: ignore[arg-type]

    assert sys.getswitchinterval() == before


def test_loops_that_overlap_leave_the_process_interval_as_they_found_it() -> None:
    """Loop A starts loop B in a thread, ends while B is still producing, then B ends (tests and benches run stages in
    threads): B keeps the short interval after A ended, and the process's own comes back after B."""
    import threading

    before = sys.getswitchinterval()
    b_producing, a_ended = threading.Event(), threading.Event()
    b_saw: list[float] = []

    def b_on_batch(produced: int) -> None:
        if produced == 3:
            b_producing.set()
            assert a_ended.wait(10)
            b_saw.append(sys.getswitchinterval())

    b = threading.Thread(
        target=_produce_all, args=(RecordingProducer(), TARGET, batches(), b_on_batch, time.monotonic() + 60)
    )

    def a_on_batch(produced: int) -> None:
        if produced == 3:
            b.start()
            assert b_producing.wait(10)

    _produce_all(RecordingProducer(), TARGET, batches(), a_on_batch, time.monotonic() + 60)  # type: ignore[arg-type]
    a_ended.set()
    b.join(10)

    assert b_saw == [pytest.approx(PRODUCING_SWITCH_INTERVAL, abs=2e-6)]
    assert sys.getswitchinterval() == before
