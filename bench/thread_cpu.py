"""CPU seconds per thread of this process over a block, by thread name: Python threads by their `threading` name,
librdkafka's by the name it gives them (`rdk:main`, `rdk:broker1`, ...). Threads that start and end inside the
block are caught by sampling /proc/self/task every `every` seconds; a thread's last sample before it ends is what it
is counted for (so a thread that lives less than `every` may be missed, and one may lose up to `every` of CPU)."""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path
from types import TracebackType

_TICK = os.sysconf("SC_CLK_TCK")


def _task_cpu(tid: str) -> tuple[str, float] | None:
    try:
        stat = Path(f"/proc/self/task/{tid}/stat").read_text()
    except OSError:  # ended between the listing and the read
        return None
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return comm, (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime: fields 14 and 15 of proc(5)


class ThreadCpu:
    def __init__(self, every: float = 0.1) -> None:
        self._every = every
        self._stop = threading.Event()
        self._start: dict[str, float] = {}
        self._last: dict[str, tuple[str, float]] = {}
        self._sampler = threading.Thread(target=self._sample_until_stopped, name="thread-cpu-sampler", daemon=True)

    def _sample(self) -> None:
        names = {str(t.native_id): t.name for t in threading.enumerate()}
        for tid in os.listdir("/proc/self/task"):
            found = _task_cpu(tid)
            if found is not None:
                comm, cpu = found
                # A Python thread by its threading name, while it is alive (and the name it had, once ended).
                name = names.get(tid) or self._last.get(tid, (comm, 0.0))[0]
                self._last[tid] = (name, cpu)

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self._every):
            self._sample()

    def __enter__(self) -> ThreadCpu:
        self._sample()
        self._start = {tid: cpu for tid, (_, cpu) in self._last.items()}
        self._sampler.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._sampler.join()
        self._sample()

    def by_name(self) -> dict[str, float]:
        """CPU seconds used inside the block, summed over the threads of each name (digits dropped, so librdkafka's
        `rdk:broker1` and `rdk:broker2` count together)."""
        totals: dict[str, float] = defaultdict(float)
        for tid, (name, cpu) in self._last.items():
            key = name.rstrip("0123456789-") or name
            totals[key] += cpu - self._start.get(tid, 0.0)
        return {name: round(cpu, 2) for name, cpu in sorted(totals.items(), key=lambda item: -item[1])}
