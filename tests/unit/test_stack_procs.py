"""Stopping a supervised process (stack.procs.ManagedProcess.stop): `leader_only` lets a program that stops its own
children in order do so, where a signal to its whole process group would reach the children at the same moment.
(`make airflow` stops its components that way: scripts/airflow_local.py.)"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from stack.procs import ManagedProcess

# A leader with one child. On SIGTERM the leader tells its child to finish (a byte on a pipe), a moment later, and
# waits for it; the child then writes `out`. A SIGTERM of the child's own kills it before it has written anything.
LEADER = r"""
import os, signal, sys, time
out, ready = sys.argv[1:3]
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(w)
    os.read(r, 1)
    with open(out, "w") as f:
        f.write("finished in order")
    os._exit(0)
def on_term(signum, frame):
    time.sleep(0.3)
    os.write(w, b"x")
    os.waitpid(child, 0)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
open(ready, "w").close()
while True:
    time.sleep(0.1)
"""


@pytest.fixture
def leader(tmp_path: Path) -> tuple[ManagedProcess, Path]:
    proc = ManagedProcess("leader", tmp_path / "pids", tmp_path / "logs")
    out, ready = tmp_path / "out", tmp_path / "ready"
    proc.start([sys.executable, "-c", LEADER, str(out), str(ready)])
    proc.wait_ready(ready.exists, timeout=30)
    return proc, out


def test_leader_only_lets_the_leader_stop_its_children_in_order(leader: tuple[ManagedProcess, Path]) -> None:
    proc, out = leader
    pid = proc.pid()
    assert pid is not None
    assert proc.stop(timeout=20, leader_only=True) == "stopped"
    assert out.read_text() == "finished in order"
    assert os.waitpid(pid, 0)[1] == 0  # the leader exited by itself, not killed
    assert proc.pid() is None


def test_a_signal_to_the_whole_group_reaches_the_children_first(leader: tuple[ManagedProcess, Path]) -> None:
    """Why `leader_only` exists: the group's SIGTERM kills the child before its parent can tell it to finish."""
    proc, out = leader
    started = time.monotonic()
    assert proc.stop(timeout=20) == "stopped"
    assert time.monotonic() - started < 20
    assert not out.exists()
