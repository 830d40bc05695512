"""The Ingestion view's overview on a year of history: response time of its JSON and its HTML page.

    set -a; source .stack/env; set +a
    .venv/bin/python bench/ingestion_view_bench.py [--sources 250] [--entities 4] [--days 365] [--repeat 20]

Generates N source configs with E entities each (parse_bench's generator) and a control database in a schema of its
own in the stack's `control` database (dropped afterwards; `--keep` keeps it for the next run): per entity, one
committed run a day for `--days` days with two check results each and its watermark history, a failed validation
on every 10th entity's last day, and an open alert on every 20th. Then requests the overview JSON and HTML from the
Ingestion view's app (ingestion.ui.app, in-process through Starlette's test client; Airflow's auth dependency is
replaced by a user who may read every DAG, so what is timed is the view's own work) `--repeat` times after one warm-up
request (the warm-up reads and validates the configs; later requests read them again only when a file changed) and
prints the median and worst. Target: the overview under 300 ms for 1,000 entities with a year of daily runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO / "bench"))

SCHEMA = "bench_ingestion_view"


def control_url() -> str:
    """The stack's control database (AIRFLOW_CONN_CONTROL_DB from .stack/env) as a SQLAlchemy URL."""
    from sqlalchemy.engine import URL

    conn = json.loads(os.environ["AIRFLOW_CONN_CONTROL_DB"])
    url = URL.create(
        "postgresql+psycopg",
        username=conn["login"],
        password=conn["password"],
        host=conn["host"],
        port=conn["port"],
        database=conn["schema"],
        query={"options": f"-csearch_path={SCHEMA}"},
    )
    return url.render_as_string(hide_password=False)


def write_configs(folder: Path, sources: int, entities: int) -> list[tuple[str, str]]:
    from parse_bench import make_config

    folder.mkdir(parents=True)
    shutil.copy(REPO / "include" / "source_configs" / "_defaults.json", folder / "_defaults.json")
    keys = []
    for index in range(sources):
        config = make_config(index, entities)
        (folder / f"{config['name']}.json").write_text(json.dumps(config))
        keys += [(config["name"], entity["name"]) for entity in config["entities"]]
    return keys


def fill(url: str, keys: list[tuple[str, str]], days: int) -> int:
    """Create the control tables in SCHEMA and COPY in the history; returns the runs written."""
    from sqlalchemy import create_engine, text

    from ingestion.state.tables import metadata

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    metadata.create_all(engine)
    today = datetime.now(UTC).replace(hour=3, minute=0, second=0, microsecond=0)
    runs = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        run_columns = (
            "source, entity, run_id, dag_id, try_number, load_mode, window_start, window_end, rows_extracted, "
            "rows_landed, rows_published, bytes_landed, seconds_extract_land, seconds_validate, seconds_publish, "
            "files, check_results, moved_watermark, committed_at"
        )
        with cursor.copy(f"COPY ingest_entity_run ({run_columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for n, (source, entity) in enumerate(keys):
                for day in range(days):
                    at = today - timedelta(days=days - 1 - day)
                    rows = 1000 + (n * 7 + day * 13) % 500
                    copy.write_row(
                        (source, entity, f"scheduled__{at:%Y-%m-%d}", f"ingest_{source}", 1, "incremental",
                         f"{at - timedelta(days=1):%Y-%m-%d}", f"{at:%Y-%m-%d}", rows, rows, rows, rows * 80,
                         2.0 + day % 5, 0.4, 1.1, '["landing/x.parquet"]', "[]", True, at)
                    )  # fmt: skip
                    runs += 1
        with cursor.copy(
            "COPY ingest_check_result (source, entity, run_id, try_number, check_name, kind, severity, passed, "
            "detail, observed, checked_at) FROM STDIN"
        ) as copy:  # type: ignore[attr-defined]
            for n, (source, entity) in enumerate(keys):
                for day in range(days + 1):
                    at = today - timedelta(days=days - 1 - day) - timedelta(minutes=5)
                    failed = day == days and n % 10 == 0  # the run after the last commit failed validation
                    if day == days and not failed:
                        continue
                    for check in ("unique(id)", "row_count"):
                        passed = not (failed and check == "unique(id)")
                        copy.write_row(
                            (source, entity, f"scheduled__{at:%Y-%m-%d}x{day}", 1, check, check.split("(")[0],
                             "error", passed, "ok" if passed else "3 duplicates", "{}", at)
                        )  # fmt: skip
        with cursor.copy(
            "COPY ingest_watermark_history (source, entity, old_value, new_value, value_type, run_id, changed_at, "
            "changed_by, reason) FROM STDIN"
        ) as copy:  # type: ignore[attr-defined]
            for source, entity in keys:
                for day in range(days):
                    at = today - timedelta(days=days - 1 - day)
                    copy.write_row(
                        (source, entity, f"{at - timedelta(days=1):%Y-%m-%d}", f"{at:%Y-%m-%d}", "timestamp",
                         f"scheduled__{at:%Y-%m-%d}", at, f"airflow:ingest_{source}", f"run scheduled__{at:%Y-%m-%d}")
                    )  # fmt: skip
        with cursor.copy(
            "COPY ingest_watermark (source, entity, value, value_type, run_id, updated_at) FROM STDIN"
        ) as copy:  # type: ignore[attr-defined]
            for source, entity in keys:
                copy.write_row((source, entity, f"{today:%Y-%m-%d}", "timestamp", "r", today))
        with cursor.copy(
            "COPY ingest_alert (dedup_key, kind, severity, source, entity, channel, status, alert, created_at) "
            "FROM STDIN"
        ) as copy:  # type: ignore[attr-defined]
            for n, (source, entity) in enumerate(keys):
                if n % 20 == 0:
                    copy.write_row(
                        (f"failure|{source}|{entity}", "failure", "high", source, entity, "teams", "sent", "{}",
                         datetime.now(UTC))
                    )  # fmt: skip
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return runs


def drop(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    engine.dispose()


def timed(client: Any, path: str, repeat: int) -> list[float]:
    took = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        took.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text[:500]
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=250)
    parser.add_argument("--entities", type=int, default=4)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the generated schema")
    args = parser.parse_args()
    url = control_url()
    work = Path(tempfile.mkdtemp(prefix="ingestion_view_bench_"))
    try:
        keys = write_configs(work / "configs", args.sources, args.entities)
        start = time.perf_counter()
        runs = fill(url, keys, args.days)
        print(f"generated {len(keys)} entities, {runs:,} runs in {time.perf_counter() - start:.1f} s")
        os.environ.update(INGEST_CONFIG_DIR=str(work / "configs"), INGEST_CONTROL_DB_URL=url, INGEST_ENV="bench")

        import logging

        from airflow.api_fastapi.core_api.security import get_user
        from fastapi.testclient import TestClient

        import ingestion.ui.app as view

        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
        app = view.create_app()
        app.dependency_overrides[get_user] = lambda: "bench"
        view._reader = lambda user: lambda dag_id: True  # type: ignore[assignment] # every DAG readable
        with TestClient(app) as client:
            start = time.perf_counter()
            first = client.get("/api/entities")
            assert first.status_code == 200, first.text[:500]
            entities = first.json()["entities"]
            print(f"first request (reads and validates the configs): {(time.perf_counter() - start) * 1000:.0f} ms")
            failing = sum(e["state"] == "failing" for e in entities)
            print(f"{len(entities)} entities, {failing} failing, {sum(e['open_alerts'] for e in entities)} alerts")
            for label, path in (("overview JSON", "/api/entities"), ("overview HTML", "/")):
                took = timed(client, path, args.repeat)
                print(
                    f"{label}: median {statistics.median(took):.0f} ms, worst {max(took):.0f} ms "
                    f"({args.repeat} requests)"
                )
            took = timed(client, f"/api/entities/{keys[0][0]}/{keys[0][1]}", args.repeat)
            print(f"entity JSON: median {statistics.median(took):.0f} ms, worst {max(took):.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            drop(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
