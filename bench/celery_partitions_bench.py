"""Partitions on two Celery workers: one N-row table through its generated DAG under `make airflow EXECUTOR=celery`
(scheduler, Redis broker, two workers of one task slot each, homes of their own), first in 1 partition, then in 2
(`load.partitions: {"count": 2, "column": "order_id", "ranges": true}`), on the local stack (`make stack-up` first).

    .venv/bin/python bench/celery_partitions_bench.py [--rows 10000000] [--no-preload]

Per layout and stage (extract_land, validate, publish, commit): wall time from the stage's first task start to its
last task end (Airflow's own task instance times), rows/s, the worker each task instance ran on, and, sampled every
0.2 s over the stage, the CPU seconds of each worker's process tree (the Celery worker, its pool process and the
task processes it reaped), of Postgres and of the whole machine, per million rows, and each worker tree's peak RSS
(the sum of its processes', so pages they share count once per process) and peak PSS (shared pages divided among
them). `--no-preload` runs the workers on Airflow's own Celery settings, without ingestion.worker_preload.
The table is the SQL pipeline benchmark's (`bench_orders_<N>`); the topics are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO), str(REPO / "bench")]

import psutil  # noqa: E402
import sql_pipeline_bench as pipeline  # noqa: E402
from partitioned_runs_bench import machine_busy_seconds, postgres_cpu_seconds  # noqa: E402

from tests.integration.airflow_rest import AirflowRest  # noqa: E402
from tests.integration.support import COMPONENT_SETTINGS, airflow_env, start_airflow  # noqa: E402

PORT = 28093
WORKERS = ("worker-1", "worker-2")
STAGES = ("extract_land", "validate", "publish", "commit")
SAMPLE_SECONDS = 0.2
WARM_UP_ROWS = 10_000
AIRFLOWS_OWN_CELERY_CONFIG = "airflow.providers.celery.executors.default_celery.DEFAULT_CELERY_CONFIG"


def _tree(pid: int) -> list[psutil.Process]:
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu_and_memory(pid: int) -> tuple[float, int, int]:
    """CPU seconds of a process tree, with the children each process reaped (a task process that ended is counted
    in its parent's), and its resident memory now: RSS and PSS, summed over its processes."""
    cpu, rss, pss = 0.0, 0, 0
    for proc in _tree(pid):
        try:
            times = proc.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            memory = proc.memory_full_info()
            rss, pss = rss + memory.rss, pss + memory.pss
        except psutil.NoSuchProcess:
            continue
    return cpu, rss, pss


@dataclass
class Sampler:
    """Samples every SAMPLE_SECONDS: (time, {worker: (cpu, rss, pss)}, postgres cpu, machine busy)."""

    worker_pids: dict[str, int]
    samples: list[tuple[float, dict[str, tuple[float, int, int]], float, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            workers = {name: _cpu_and_memory(pid) for name, pid in self.worker_pids.items()}
            self.samples.append((time.time(), workers, postgres_cpu_seconds(), machine_busy_seconds()))
            time.sleep(SAMPLE_SECONDS)

    def between(self, start: float, end: float) -> dict[str, Any]:
        """CPU used and peak RSS from the last sample at or before `start` to the first at or after `end`."""
        before = max((s for s in self.samples if s[0] <= start), key=lambda s: s[0], default=self.samples[0])
        after = min((s for s in self.samples if s[0] >= end), key=lambda s: s[0], default=self.samples[-1])
        inside = [s for s in self.samples if before[0] <= s[0] <= after[0]]
        return {
            "workers_cpu": {w: after[1][w][0] - before[1][w][0] for w in self.worker_pids},
            "workers_peak_rss": {w: max(s[1][w][1] for s in inside) for w in self.worker_pids},
            "workers_peak_pss": {w: max(s[1][w][2] for s in inside) for w in self.worker_pids},
            "postgres_cpu": after[2] - before[2],
            "machine_cpu": after[3] - before[3],
        }


def _time(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def run_layout(api: AirflowRest, dag_id: str, sampler: Sampler, rows: int) -> dict[str, Any]:
    api.wait_parsed(dag_id)
    api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    run_id = api.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"]
    api.wait_run(dag_id, run_id, timeout=1800)
    time.sleep(2 * SAMPLE_SECONDS)  # a sample after the last task's end
    tis = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})["task_instances"]
    result: dict[str, Any] = {}
    for stage in STAGES:
        mine = [ti for ti in tis if ti["task_id"] == f"orders.{stage}"]
        start, end = min(_time(ti["start_date"]) for ti in mine), max(_time(ti["end_date"]) for ti in mine)
        used = sampler.between(start, end)
        result[stage] = {
            "wall": end - start,
            "rows_per_second": rows / (end - start),
            "tasks": [
                {"map_index": ti["map_index"], "worker": ti["hostname"], "seconds": ti["duration"]}
                for ti in sorted(mine, key=lambda ti: ti["map_index"])
            ],
            **used,
        }
    return result


def report(rows: int, partitions: int, stages: dict[str, Any]) -> None:
    million = rows / 1e6
    print(f"\n[bench] {rows:,} rows, {partitions} partition(s) on the Celery workers:")
    for stage, m in stages.items():
        tasks = ", ".join(f"{t['worker'].removeprefix('airflow-')} {t['seconds']:.1f} s" for t in m["tasks"])
        workers_cpu = sum(m["workers_cpu"].values())
        rss = " / ".join(f"{v / 2**20:.0f} MB" for v in m["workers_peak_rss"].values())
        pss = " / ".join(f"{v / 2**20:.0f} MB" for v in m["workers_peak_pss"].values())
        print(
            f"  {stage:<12} wall {m['wall']:6.1f} s {m['rows_per_second']:>11,.0f} rows/s  workers CPU "
            f"{workers_cpu / million:5.2f} s/M  Postgres {m['postgres_cpu'] / million:5.2f}  machine "
            f"{m['machine_cpu'] / million:5.2f} s/M  worker peak RSS {rss} (PSS {pss})  tasks: {tasks}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--no-preload", action="store_true", help="Airflow's own Celery settings (no worker preload)")
    args = parser.parse_args()
    os.environ.update(pipeline._stack_env())
    table = pipeline.make_table(args.rows)
    work = REPO / ".tools" / "bench" / "celery" / uuid.uuid4().hex[:8]
    configs = work / "configs"
    split = {"count": 2, "column": "order_id", "ranges": True}
    # A first run on a small table on both workers, not measured: a worker's first task pays for what its pool
    # process imports once.
    warm_up = _source(configs, "celerywarmup", pipeline.make_table(WARM_UP_ROWS), split)
    sources = {n: _source(configs, f"celerybench{n}", table, split if n > 1 else None) for n in (1, 2)}
    home = work / "airflow"
    pg_port = os.environ.get("STACK_POSTGRES_PORT", "25432")
    env = airflow_env(
        home,
        configs,
        **{**COMPONENT_SETTINGS, "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"},
        AIRFLOW__CELERY__WORKER_CONCURRENCY="1",  # one task per worker: two partitions run on the two workers
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg://ingest:ingest@127.0.0.1:{pg_port}/airflow_celery",
        **({"AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": AIRFLOWS_OWN_CELERY_CONFIG} if args.no_preload else {}),
    )
    proc, _ = start_airflow(env, PORT)
    results: dict[int, Any] = {}
    try:
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        api = AirflowRest(f"http://127.0.0.1:{PORT}", password, timeout=600)
        pids = {w: int((home / "pids" / f"{w}.pid").read_text()) for w in WORKERS}
        sampler = Sampler(pids)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        run_layout(api, f"ingest_{warm_up}", sampler, WARM_UP_ROWS)
        _delete_topic(f"ingest.{warm_up}.orders")
        for partitions, source in sources.items():
            results[partitions] = run_layout(api, f"ingest_{source}", sampler, args.rows)
            report(args.rows, partitions, results[partitions])
            _delete_topic(f"ingest.{source}.orders")
        sampler.stop.set()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=180)
    (work / "results.json").write_text(json.dumps(results, indent=2))
    for stage in ("extract_land", "publish"):
        one, two = results[1][stage], results[2][stage]
        print(
            f"[bench] {stage}, 2 partitions vs 1: wall x{one['wall'] / two['wall']:.2f} faster; workers CPU "
            f"{sum(two['workers_cpu'].values()) / sum(one['workers_cpu'].values()):.0%} of 1's; Postgres "
            f"{two['postgres_cpu'] / max(one['postgres_cpu'], 1e-9):.0%}; machine "
            f"{two['machine_cpu'] / one['machine_cpu']:.0%}"
        )
    print(f"[bench] raw results: {work / 'results.json'}")
    return 0


def _source(configs: Path, prefix: str, table: str, partitions: dict[str, Any] | None) -> str:
    """A source of its own on `table`, started by hand (no schedule)."""
    source = f"{prefix}{uuid.uuid4().hex[:4]}"
    pipeline.write_config(configs, source, table, content_checks=False, partitions=partitions)
    config = json.loads((configs / f"{source}.json").read_text())
    (configs / f"{source}.json").write_text(json.dumps({**config, "schedule": None}))
    return source


def _delete_topic(topic: str) -> None:
    """Ten million messages are gigabytes of the shared broker's disk: dropped once counted."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(json.loads(os.environ["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"])
    admin.delete_topics([topic], operation_timeout=60)[topic].result(timeout=90)


if __name__ == "__main__":
    sys.exit(main())
