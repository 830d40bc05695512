"""The stack script's own promises, checked on a second, private stack (own state dir and ports):
a service that does not come up is named and everything started is stopped; `down` leaves no process behind.

Only the two cheap Python services are used, so this costs seconds, not a second Kafka.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.procs import owned_processes

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stack(
    state: Path, *args: str, extra_env: dict[str, str] | None = None, **ports: int
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STACK_STATE_DIR": str(state),
        "STACK_DATA_DIR": str(state / "data"),
        "STACK_SERVICES": "sample-api,webhook-sink",
        "STACK_READY_TIMEOUT": "30",
        **{f"STACK_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "stack", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "stack"
    _stack(tmp_path / "stack", "down")  # never leave a test's services behind, whatever happened


def test_up_then_down_leaves_no_process(state: Path) -> None:
    ports = {"sample_api": _free_port(), "webhook_sink": _free_port()}
    up = _stack(state, "up", **ports)
    assert up.returncode == 0, up.stdout + up.stderr
    pids = [int((state / "pids" / f"{name}.pid").read_text()) for name in ("sample-api", "webhook-sink")]
    assert set(pids) <= set(owned_processes(str(state.resolve())))
    assert "STACK_SAMPLE_API_URL" in (state / "env").read_text()

    down = _stack(state, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert owned_processes(str(state.resolve())) == []
    assert list((state / "pids").glob("*.pid")) == []
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_port_in_use_names_the_service_and_stops_the_others(state: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        up = _stack(state, "up", sample_api=_free_port(), webhook_sink=busy)
    assert up.returncode == 1
    assert f"webhook-sink: port {busy} on 127.0.0.1 is already in use" in up.stdout
    # sample-api had started before the failure: it must have been stopped again.
    assert owned_processes(str(state.resolve())) == []


def test_process_dying_at_start_names_the_service_and_shows_its_log(state: Path) -> None:
    # The app reads SAMPLE_API_RECORDS at import: a non-number makes the process exit at once.
    up = _stack(
        state, "up", extra_env={"SAMPLE_API_RECORDS": "many"}, sample_api=_free_port(), webhook_sink=_free_port()
    )
    assert up.returncode == 1
    assert "sample-api: process exited" in up.stdout
    assert "ValueError" in up.stdout  # the tail of the service's log is shown
    assert owned_processes(str(state.resolve())) == []


def test_bad_settings_are_rejected_before_anything_starts(state: Path) -> None:
    unknown = _stack(state, "up", extra_env={"STACK_SERVICES": "kafka,zookeeper"})
    assert unknown.returncode == 2
    assert "zookeeper" in unknown.stdout
    bad_port = _stack(state, "up", sample_api=70000)
    assert bad_port.returncode == 2
    assert "STACK_SAMPLE_API_PORT='70000'" in bad_port.stdout
    assert not (state / "pids").exists()
