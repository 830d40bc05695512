"""`make demo`'s script, run for real on the stack with its own Airflow home: every demo DAG succeeds."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end_and_prints_its_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow")
    result = subprocess.run(["bash", "scripts/demo.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "platform_smoke_check  run manual__" in output
    assert "state=success" in output
    for task_id in (
        "read_postgres",
        "read_mysql",
        "write_lake",
        "produce_kafka",
        "list_sftp",
        "call_api",
        "post_alert",
    ):
        line = next(line for line in output.splitlines() if line.strip().startswith(task_id))
        assert " success " in line, line
    assert "all demo runs succeeded" in output
