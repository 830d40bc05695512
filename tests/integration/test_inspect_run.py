"""`make run`'s script runs one DAG by hand on the stack, then `scripts/ingest inspect` shows what the run left: its
landed files with rows and bytes, sample rows with the PII columns hidden, and the topic's offsets per partition.

The source is a copy of include/source_configs/crm.json under a name of this module's own, so the demo's state and
this test's never mix.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from typing import Any

import pytest

from tests.integration.support import REPO, write_configs

LOGICAL_DATE = "2026-11-03T02:00:00+00:00"  # the day of the seeded orders: 85 of them (see scripts/demo.sh)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    name = f"i{uuid.uuid4().hex[:8]}"
    config = json.loads((REPO / "include" / "source_configs" / "crm.json").read_text())
    config.pop("$schema", None)
    config.update(name=name, retries={"count": 0}, kafka={"publish_timeout_seconds": 30})
    config_dir = write_configs(tmp_path_factory.mktemp("configs"), config)
    # What a person's shell has after `set -a; source .stack/env; set +a` (the conftest put it in os.environ), with
    # a fresh Airflow home and none of this process's Airflow settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(AIRFLOW_HOME=str(tmp_path_factory.mktemp("airflow")), INGEST_CONFIG_DIR=str(config_dir))
    run = subprocess.run(
        ["bash", "scripts/run_dag.sh", f"ingest_{name}", LOGICAL_DATE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return {"name": name, "config_dir": config_dir, "env": env, "output": run.stdout}


def inspect(source: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(source["config_dir"]), "inspect", source["name"], *args],
        cwd=REPO,
        env=source["env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_runs_script_runs_the_dag_and_prints_its_summary(source: dict[str, Any]) -> None:
    output = source["output"]
    assert f"ingest_{source['name']}  run manual__" in output
    assert "state=success" in output
    assert f"[run] ingest_{source['name']} succeeded" in output


def test_inspect_lists_the_runs_files_rows_and_topic_offsets(source: dict[str, Any]) -> None:
    name = source["name"]
    done = inspect(source, "orders")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "control DB: postgresql+psycopg://127.0.0.1:" in done.stderr  # which control DB, never its password
    assert ":ingest@" not in done.stderr
    assert re.search(r"^run        manual__", out, re.MULTILINE), out
    assert "rows       extracted 85, landed 85, published 85" in out
    files = re.findall(
        rf"^file       landing/{name}/orders/date=\d\d\d\d-\d\d-\d\d/\S+\.parquet  (\d+) rows  (\d+) bytes$", out, re.M
    )
    assert files, out
    assert sum(int(rows) for rows, _ in files) == 85
    assert all(int(size) > 0 for _, size in files)
    assert f"total      {len(files)} file(s), 85 rows" in out
    sample = [json.loads(line) for line in out.splitlines() if line.startswith("  {")]
    assert len(sample) == 5
    assert all(row["note"] == "<pii:redact>" for row in sample)  # declared PII: never printed
    assert {"order_id", "customer_id", "amount"} <= set(sample[0])
    assert f"topic      ingest.{name}.orders  (3 partition(s)" in out
    offsets = [tuple(map(int, m)) for m in re.findall(r"^  partition (\d+): low (\d+)  high (\d+)$", out, re.M)]
    assert [p for p, _, _ in offsets] == [0, 1, 2]
    assert sum(high - low for _, low, high in offsets) >= 85  # the 85 messages, plus transaction markers


def test_inspect_never_prints_a_pii_column_and_refuses_an_unknown_run(source: dict[str, Any]) -> None:
    done = inspect(source, "customers", "--rows", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    sample = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("  {")]
    assert len(sample) == 3
    for row in sample:
        # Hashed, redacted, and a token for the value kept in the sensitive zone: none of them is printed.
        assert (row["email"], row["phone"], row["full_name"]) == ("<pii:hash>", "<pii:redact>", "<pii:sensitive>")
    assert "@" not in "".join(line for line in done.stdout.splitlines() if line.startswith("  {"))

    unknown = inspect(source, "orders", "--run", "manual__no_such_run")
    assert unknown.returncode == 2
    assert f"{source['name']}.orders: no run 'manual__no_such_run' in the control DB" in unknown.stdout
