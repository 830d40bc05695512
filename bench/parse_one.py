"""One timed parse of one benchmark variant's DAG folder with Airflow's DagBag; prints a JSON line.

Run by parse_bench.py in a fresh process per measurement. The imports every variant needs (Airflow, the operators,
the variant's own library) happen before the clock starts, so the time is what each DAG costs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

variant, folder = sys.argv[1], sys.argv[2]

from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.sdk import DAG, Asset, TaskGroup, chain  # noqa: E402, F401

import ingestion.operators.stages  # noqa: E402

if variant == "factory":
    import ingestion.builder
    import ingestion.factory  # noqa: F401
elif variant == "dagfactory":
    import dagfactory  # noqa: F401

started, cpu_started = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=folder, safe_mode=False)
seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
print(
    json.dumps(
        {
            "variant": variant,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "dags": len(bag.dags),
            "import_errors": {k: v[-500:] for k, v in bag.import_errors.items()},
            # VmHWM, not ru_maxrss: Linux carries the parent's peak into a child's ru_maxrss across fork and exec.
            "peak_rss_mb": int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024,
        }
    )
)
