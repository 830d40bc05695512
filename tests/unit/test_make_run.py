"""`make run` without DAG: the usage, before the bootstrap and the local stack take minutes to come up."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_make_run_without_a_dag_says_how_before_starting_anything(tmp_path: Path) -> None:
    state = tmp_path / "stack"  # a stack started by mistake would put its state here
    env = {**os.environ, "STACK_STATE_DIR": str(state)}
    env.pop("DAG", None)
    done = subprocess.run(
        ["make", "--no-print-directory", "run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "usage: make run DAG=<dag_id> [DATE=YYYY-MM-DD]" in done.stderr
    assert "[bootstrap]" not in done.stdout + done.stderr
    assert "[stack]" not in done.stdout + done.stderr
    assert not state.exists()
