"""Process supervision for the native local stack: start detached, record the PID, wait for readiness, stop by PID.

Standard library only, so `python -m stack down` works even when the virtualenv is broken.
Every service runs in its own session (process group), so stopping it also stops whatever it forked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class StackError(RuntimeError):
    """A service could not be installed, started or stopped. The message names the service."""


def stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat fields from the state field on (field 3 of proc(5) is index 0): split after the last ')',
    since the command name before it may hold spaces and parentheses. Raises OSError when the process is gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone once it is reaped or defunct.
    try:
        state = stat_fields(pid)[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(0) also succeeds while only zombies remain: look for a live member.
    return any(fields[0] != "Z" for fields in _group_members(pgid))


def _group_members(pgid: int) -> list[list[str]]:
    """/proc/<pid>/stat fields (from the state field on) of every process in group `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_fields(stat.parent.name)
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            members.append(fields)
    return members


def _descendants(pid: int) -> list[int]:
    """Every live process below `pid`, also those that left its process group (sshd's connection children start
    sessions of their own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_fields(stat.parent.name)
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


OWNER_VAR = "STACK_OWNER"


def owned_processes(owner: str) -> list[int]:
    """PIDs of live processes started by the stack whose state dir is `owner` (they inherit OWNER_VAR)."""
    marker = f"{OWNER_VAR}={owner}".encode() + b"\0"
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            data = environ.read_bytes() + b"\0"
        except OSError:
            continue
        pid = int(environ.parent.name)
        if marker in data and pid != os.getpid() and _alive(pid):
            found.append(pid)
    return sorted(found)


class ManagedProcess:
    """One long-running service process, tracked by a PID file in the state directory.

    Every process gets `STACK_OWNER=<state dir>` in its environment, which its children inherit, so
    `owned_processes` can find anything left behind, even a process that left its group.
    """

    def __init__(self, name: str, pid_dir: Path, log_dir: Path) -> None:
        self.name = name
        self.pid_file = pid_dir / f"{name}.pid"
        self.log_file = log_dir / f"{name}.log"
        self.owner = str(pid_dir.parent)

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        pid = self.pid()
        return pid is not None and _alive(pid)

    def start(self, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            env = {**(os.environ if env is None else env), OWNER_VAR: self.owner}
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                raise StackError(f"{self.name}: could not start {argv[0]}: {exc}") from exc
        self.pid_file.write_text(f"{proc.pid}\n")
        self._popen = proc
        return proc.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(f"    {line}" for line in text[-lines:])

    def wait_ready(self, check: Callable[[], bool], timeout: float) -> float:
        """Poll `check` until it passes; fail fast, naming the service, if the process dies or time runs out."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            popen = getattr(self, "_popen", None)
            exited = popen.poll() if popen is not None else (None if self.running() else -1)
            if exited is not None:
                raise StackError(
                    f"{self.name}: process exited (code {exited}) before it was ready. "
                    f"Last lines of {self.log_file}:\n{self.log_tail()}"
                )
            try:
                if check():
                    return time.monotonic() - started
            except Exception:  # noqa: BLE001, S110 - any failure of a probe just means "not ready yet"
                pass
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.name}: not ready after {timeout:.0f}s. Last lines of {self.log_file}:\n{self.log_tail()}"
                )
            time.sleep(0.3)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0, *, leader_only: bool = False) -> str:
        """Stop the whole process group: `sig` first, SIGKILL after `timeout`. Returns what happened.

        `leader_only` sends `sig` to the group's leader alone, for a program that stops its own children in order
        (they would otherwise get it at the same moment); what is left of the group once the leader is gone gets it
        then."""
        pid = self.pid()
        if pid is None:
            return "not running"
        outcome = "stopped"
        # A stopped service leaves nothing behind: processes it forked into sessions of their own (an SSH
        # connection's server side) would go on serving their clients.
        strays = [child for child in _descendants(pid) if _pgid(child) not in (pid, None)]
        try:
            if leader_only:
                os.kill(pid, sig)
            else:
                os.killpg(pid, sig)
        except ProcessLookupError:
            outcome = "was not running"
        deadline = time.monotonic() + timeout
        popen = getattr(self, "_popen", None)
        while _group_alive(pid) and time.monotonic() < deadline:
            if popen is not None:
                popen.poll()
            if leader_only and not _alive(pid):
                leader_only = False
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig)
            time.sleep(0.2)
        if _group_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            outcome = f"killed after {timeout:.0f}s"
            time.sleep(0.5)
        if _group_alive(pid):
            raise StackError(f"{self.name}: process group {pid} is still alive after SIGKILL")
        for child in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return outcome

    def rss_bytes(self) -> int:
        """Resident memory of the process group (the service and its children)."""
        pid = self.pid()
        if pid is None:
            return 0
        return sum(int(fields[21]) for fields in _group_members(pid)) * os.sysconf("SC_PAGE_SIZE")
