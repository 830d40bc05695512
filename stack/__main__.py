"""Native local stack: `python -m stack up | down | status | stop NAME | start NAME | sample-rss`.

`up` (re)builds every service's data, starts it detached on 127.0.0.1, waits until it answers, seeds it and
writes `.stack/env`. If any service fails, it says which, shows its log, stops what it started and exits 1.
`down` stops every service that has a PID file, by process group, and exits 1 if anything survives.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from typing import Any

from stack.connections import connections, write_env_file
from stack.procs import ManagedProcess, StackError, owned_processes
from stack.services import SERVICE_CLASSES, Service, Sftp
from stack.settings import ALL_SERVICES, Settings


def _say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def up(settings: Settings) -> int:
    started: list[Service] = []
    total = time.monotonic()
    name = "stack"
    try:
        for name in settings.services:
            svc = SERVICE_CLASSES[name](settings)
            if svc.proc.running():
                if svc.ready():
                    _say(f"{name}: already running (pid {svc.proc.pid()}, port {svc.port})")
                    continue
                raise StackError(
                    f"{name}: a process (pid {svc.proc.pid()}) is running but not answering; "
                    "run `python -m stack down` first"
                )
            svc.proc.pid_file.unlink(missing_ok=True)
            svc.check_port_free()
            t0 = time.monotonic()
            svc.prepare()
            pid = svc.proc.start(svc.command(), env=svc.env())
            started.append(svc)
            svc.proc.wait_ready(svc.ready, settings.ready_timeout)
            svc.seed()
            _say(f"{name}: ready in {time.monotonic() - t0:.1f}s (pid {pid}, 127.0.0.1:{svc.port})")
    except Exception as exc:  # noqa: BLE001 - whatever broke, report the service and clean up
        _say(f"FAILED: {exc}" if isinstance(exc, StackError) else f"FAILED: {name}: {type(exc).__name__}: {exc}")
        for svc in reversed(started):
            try:
                svc.proc.stop(svc.stop_signal)
            except StackError as stop_exc:
                _say(f"also failed to stop: {stop_exc}")
        return 1
    sftp = Sftp(settings)
    conns = connections(
        settings,
        sftp_host_key=sftp.host_public_key(),
        sftp_key_file=sftp.client_key if sftp.client_key.exists() else None,
    )
    env_file = write_env_file(settings, conns)
    _say(f"all services ready in {time.monotonic() - total:.1f}s; connections in {env_file}")
    return 0


def down(settings: Settings) -> int:
    failures = 0
    names = list(reversed(ALL_SERVICES))
    # Also stop anything with a PID file we no longer know the name of.
    if settings.pid_dir.exists():
        names += sorted(p.stem for p in settings.pid_dir.glob("*.pid") if p.stem not in ALL_SERVICES)
    for name in names:
        cls = SERVICE_CLASSES.get(name)
        proc = cls(settings).proc if cls else ManagedProcess(name, settings.pid_dir, settings.log_dir)
        if proc.pid() is None:
            continue
        try:
            outcome = proc.stop(cls.stop_signal if cls else Service.stop_signal)
            _say(f"{name}: {outcome}")
        except StackError as exc:
            _say(f"FAILED: {exc}")
            failures += 1
    # Anything still carrying our owner mark escaped its process group: a bug worth failing loudly on.
    leftovers = owned_processes(str(settings.state_dir))
    if leftovers:
        _say(f"FAILED: processes left behind after stopping: {leftovers}; killing them")
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        failures += 1
    return 1 if failures else 0


def stop_one(settings: Settings, name: str) -> int:
    """Stop one service and keep its data, e.g. to take Kafka away in the middle of a publish (fault tests)."""
    svc = SERVICE_CLASSES[name](settings)
    if svc.proc.pid() is None:
        _say(f"{name}: not running")
        return 0
    try:
        _say(f"{name}: {svc.proc.stop(svc.stop_signal)}")
    except StackError as exc:
        _say(f"FAILED: {exc}")
        return 1
    return 0


def start_one(settings: Settings, name: str) -> int:
    """Start one stopped service on the data it had (no rebuild, no seed) and wait until it answers."""
    svc = SERVICE_CLASSES[name](settings)
    if svc.proc.running():
        _say(f"{name}: already running (pid {svc.proc.pid()})")
        return 0
    built = svc.built_state
    if built is not None and not built.exists():
        _say(f"FAILED: {name}: nothing built in {built}; run `python -m stack up` to build it")
        return 1
    svc.proc.pid_file.unlink(missing_ok=True)
    t0 = time.monotonic()
    try:
        svc.check_port_free()
        pid = svc.proc.start(svc.command(), env=svc.env())
        svc.proc.wait_ready(svc.ready, settings.ready_timeout)
    except StackError as exc:
        _say(f"FAILED: {exc}")
        return 1
    _say(f"{name}: ready again in {time.monotonic() - t0:.1f}s (pid {pid}, 127.0.0.1:{svc.port})")
    return 0


def status(settings: Settings, as_json: bool) -> int:
    rows: list[dict[str, Any]] = []
    for name in ALL_SERVICES:
        svc = SERVICE_CLASSES[name](settings)
        running = svc.proc.running()
        ready = False
        if running:
            try:
                ready = svc.ready()
            except Exception:  # noqa: BLE001 - a failing probe means "not ready"
                ready = False
        rows.append(
            {
                "service": name,
                "pid": svc.proc.pid(),
                "running": running,
                "ready": ready,
                "port": svc.port,
                "rss_mb": round(svc.proc.rss_bytes() / 2**20, 1),
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            state = "ready" if r["ready"] else ("running, not answering" if r["running"] else "stopped")
            print(f"{r['service']:<13} {state:<24} port {r['port']:<6} pid {r['pid'] or '-':<8} rss {r['rss_mb']} MB")
        print(f"{'total':<13} {'':<24} {'':<11} {'':<12} rss {sum(r['rss_mb'] for r in rows):.1f} MB")
    return 0 if all(r["ready"] for r in rows if r["service"] in settings.services) else 3


def sample_rss(settings: Settings, every: float, out: str) -> int:
    """Write the stack's total RSS every `every` seconds until no service is left running (used by `make test`)."""
    procs = [SERVICE_CLASSES[name](settings).proc for name in ALL_SERVICES]
    with open(out, "a", encoding="utf-8") as fh:
        while any(p.running() for p in procs):
            fh.write(f"{time.time():.0f} {sum(p.rss_bytes() for p in procs)}\n")
            fh.flush()
            time.sleep(every)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up", help="build, start, wait for and seed every service; write .stack/env")
    sub.add_parser("down", help="stop every service by PID (process group)")
    st = sub.add_parser("status", help="which services are up, and their memory")
    st.add_argument("--json", action="store_true")
    for cmd, text in (("stop", "stop one service, keeping its data"), ("start", "start one stopped service again")):
        one = sub.add_parser(cmd, help=text)
        one.add_argument("service", choices=ALL_SERVICES)
    rss = sub.add_parser("sample-rss", help="log the stack's total RSS until it stops")
    rss.add_argument("--every", type=float, default=2.0)
    rss.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        _say(f"FAILED: {exc}")
        return 2
    if args.cmd == "up":
        return up(settings)
    if args.cmd == "down":
        return down(settings)
    if args.cmd == "stop":
        return stop_one(settings, args.service)
    if args.cmd == "start":
        return start_one(settings, args.service)
    if args.cmd == "status":
        return status(settings, args.json)
    return sample_rss(settings, args.every, args.out)


if __name__ == "__main__":
    sys.exit(main())
