"""Partitioned runs benchmark: one N-row Postgres table through extract_land, validate and publish, first as one
partition, then as 2 partitions whose extract_land and publish tasks run side by side (two task processes each, as
two workers would run them), on the local stack (`make stack-up` first).

    .venv/bin/python bench/partitioned_runs_bench.py [--rows 10000000] [--no-publish] [--one-at-a-time] [--ranges]

Per layout: the stage's wall time (first task start to last task end), rows/s, each task process's own clock, peak
RSS (VmHWM) and CPU seconds (user + system, from wait4), and the whole machine's busy CPU seconds over the stage
(/proc/stat: the task processes plus Postgres, Azurite and the broker, which share the two cores), each per million
rows. The tasks are the same stage functions the operators call, in child processes of the SQL pipeline benchmark
(bench/sql_pipeline_bench.py --child). The table is the one that benchmark creates (`bench_orders_<N>`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO), str(REPO / "bench")]

import sql_pipeline_bench as pipeline  # noqa: E402

STAGE_SCRIPT = str(REPO / "bench" / "sql_pipeline_bench.py")


def machine_busy_seconds() -> float:
    """CPU seconds every core spent busy since boot (user, nice, system, irq, softirq, steal), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU seconds the stack's Postgres has used so far: the postmaster, its live backends, and the backends that
    ended (their time is added to the postmaster's children's once it reaps them)."""
    from stack.procs import ManagedProcess, stat_fields
    from stack.settings import Settings

    settings = Settings.from_env()
    postmaster = ManagedProcess("postgres", settings.pid_dir, settings.log_dir).pid()
    if postmaster is None:
        sys.exit("the local Postgres is not running: `make stack-up`")
    ticks = sum(int(v) for v in stat_fields(postmaster)[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = stat_fields(entry.name)
        except OSError:
            continue
        if int(fields[1]) == postmaster:  # the parent pid: a backend or a helper
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_side_by_side(
    states: list[dict[str, Any]], stage: str, work: Path, env: dict[str, str], *, one_at_a_time: bool = False
) -> dict[str, Any]:
    """The stage for each state at once (or one after another), each in a child process; wall time of the lot, the
    machine's and Postgres's CPU over it, and per child its result, own clock, peak RSS and CPU seconds."""
    busy_before, postgres_before = machine_busy_seconds(), postgres_cpu_seconds()
    started = time.perf_counter()
    tasks = []
    with contextlib.ExitStack() as outputs:
        children = []
        for i, state in enumerate(states):
            state_file = work / f"{stage}_{i}.json"
            state_file.write_text(json.dumps(state))
            out = outputs.enter_context(tempfile.TemporaryFile("w+"))
            proc = subprocess.Popen(
                [sys.executable, STAGE_SCRIPT, "--child", stage, "--arg", str(state_file)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=REPO,
            )
            children.append((proc, out))
            if one_at_a_time:
                os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # finished, left for wait4 below
        for proc, out in children:
            _, status, usage = os.wait4(proc.pid, 0)
            out.seek(0)
            text = out.read()
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"[bench] {stage} failed:\n{text[-3000:]}")
            result = json.loads([line for line in text.splitlines() if line.startswith("{")][-1])
            result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 2)
            tasks.append(result)
    wall = time.perf_counter() - started
    busy, postgres = machine_busy_seconds() - busy_before, postgres_cpu_seconds() - postgres_before
    return {
        "wall_seconds": round(wall, 2),
        "machine_cpu_seconds": round(busy, 2),
        "postgres_cpu_seconds": round(postgres, 2),
        "tasks": tasks,
    }


def layout(
    rows: int,
    table: str,
    partitions: int,
    work: Path,
    *,
    publish: bool,
    base_env: dict[str, str],
    one_at_a_time: bool = False,
    ranges: bool = False,
) -> dict[str, Any]:
    source = f"bench{uuid.uuid4().hex[:6]}"
    configs = work / f"configs_{partitions}"
    split = {"count": partitions, **({"column": "order_id", "ranges": True} if ranges else {})}
    pipeline.write_config(configs, source, table, content_checks=False, partitions=split if partitions > 1 else None)
    env = {**base_env, "INGEST_CONFIG_DIR": str(configs)}
    state: dict[str, Any] = {
        "source": source,
        "run_id": f"scheduled__bench_{source}",
        "interval_end": "2026-11-22T00:00:00+00:00",
    }
    shares = [{**state, "partition": k} for k in range(partitions)] if partitions > 1 else [state]
    stages = {"extract_land": run_side_by_side(shares, "extract_land", work, env, one_at_a_time=one_at_a_time)}
    landed = stages["extract_land"]["tasks"]
    assert sum(t["rows"] for t in landed) == rows, [t["rows"] for t in landed]
    stages["validate"] = run_side_by_side([state], "validate", work, env)
    assert stages["validate"]["tasks"][0]["rows"] == rows
    if publish:
        stages["publish"] = run_side_by_side(shares, "publish", work, env, one_at_a_time=one_at_a_time)
        groups = stages["publish"]["tasks"]
        assert sum(g["rows_published"] for g in groups) == rows, groups
        published = groups[0]
        from confluent_kafka.admin import AdminClient

        # Ten million messages are gigabytes of the shared broker's disk: drop the topic once it has been counted.
        admin = AdminClient(json.loads(env["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"])
        topic = published["topic"]
        admin.delete_topics([topic], operation_timeout=60)[topic].result(timeout=90)
    return stages


def report(rows: int, partitions: int, stages: dict[str, Any], how: str) -> None:
    millions = rows / 1e6
    print(f"\n[bench] {rows:,} rows, {partitions} partition(s){how if partitions > 1 else ''}:")
    for stage, measured in stages.items():
        tasks = measured["tasks"]
        own_cpu = sum(t["own_cpu_seconds"] for t in tasks)
        per_task = ", ".join(
            f"{t.get('seconds', 0):.1f} s own / {t['peak_rss_mb']} MB / {t['own_cpu_seconds']:.1f} s own CPU "
            f"({t['cpu_seconds']:.1f} s with start-up)"
            for t in tasks
        )
        print(
            f"  {stage:<12} wall {measured['wall_seconds']:7.1f} s  {rows / measured['wall_seconds']:>10,.0f} rows/s  "
            f"stage CPU {own_cpu / millions:5.2f} s/M rows  Postgres {measured['postgres_cpu_seconds'] / millions:5.2f}"
            f"  machine {measured['machine_cpu_seconds'] / millions:5.2f} s/M rows  tasks: {per_task}"
        )


def _own_cpu(measured: dict[str, Any]) -> float:
    return float(sum(t["own_cpu_seconds"] for t in measured["tasks"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--no-publish", action="store_true", help="extract_land and validate only")
    parser.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="run the partitions' tasks one after another: their CPU without the contention of sharing the cores",
    )
    parser.add_argument(
        "--ranges",
        action="store_true",
        help="split 2 partitions in ranges of order_id (load.partitions.ranges), not by a hash of the key",
    )
    args = parser.parse_args()
    os.environ.update(pipeline._stack_env())
    table = pipeline.make_table(args.rows)
    work = REPO / ".tools" / "bench" / "partitioned" / uuid.uuid4().hex[:8]
    work.mkdir(parents=True)
    base_env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"}
    results = {}
    for partitions in (1, 2):
        results[partitions] = layout(
            args.rows,
            table,
            partitions,
            work,
            publish=not args.no_publish,
            base_env=base_env,
            one_at_a_time=args.one_at_a_time,
            ranges=args.ranges,
        )
        how = ", one after another" if args.one_at_a_time else ", side by side"
        report(args.rows, partitions, results[partitions], how)
    one, two = results[1]["extract_land"], results[2]["extract_land"]
    print(
        f"\n[bench] extract_land, 2 partitions vs 1: wall x{one['wall_seconds'] / two['wall_seconds']:.2f} faster; "
        f"stage CPU {_own_cpu(two) / _own_cpu(one):.0%} of 1's; machine CPU "
        f"{two['machine_cpu_seconds'] / one['machine_cpu_seconds']:.0%} of 1's"
    )
    pipeline.save_results(work, {str(k): v for k, v in results.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
