"""The fault matrix's tools: a source of a scenario's own, faults armed at named points (see ingestion.faults),
stages run in this process or in one of their own (to be killed), and the check every row ends with.

The check reads what a consumer and an operator would see: the topic as a plain read_committed consumer, the
control database's run records and watermark history, and the lake under each committed run's prefix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ingestion.faults import FAULT_DIR_ENV
from tests.integration.support import REPO, read_committed, run_stages

STAGES = ("extract_land", "validate", "publish", "commit")


def run_id_for(end: datetime) -> str:
    """The id of the scheduled run whose data interval ends at `end` (its files are named after `end`)."""
    return f"scheduled__{end.isoformat()}"


@dataclass
class Verdict:
    """What one scenario left behind, against what it should have."""

    rows_lost: int
    rows_duplicated: int
    watermark_moves: int
    stray_blobs: list[str]

    def assert_exactly_once(self, moves: int) -> None:
        assert self.rows_lost == 0, f"{self.rows_lost} source row(s) of committed windows are not in Kafka"
        assert self.rows_duplicated == 0, f"{self.rows_duplicated} message(s) in Kafka more than once per run"
        assert self.watermark_moves == moves, f"the watermark moved {self.watermark_moves} time(s), not {moves}"
        assert self.stray_blobs == [], (
            f"blobs under committed runs' prefixes that no manifest lists: {self.stray_blobs}"
        )


@dataclass
class Scenario:
    """One source (named `name`) with one entity, its config folder, and a folder of armed faults."""

    name: str
    config_dir: Path
    fault_dir: Path
    entity: str = "orders"
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> stage -> result (XCom stand-in)

    @property
    def topic(self) -> str:
        return f"ingest.{self.name}.{self.entity}"

    @property
    def where(self) -> str:
        return f"{self.name}.{self.entity}"

    # -- faults ----------------------------------------------------------------------------------------------

    def arm(self, point: str, action: str, *, after: int = 0, once: bool = True) -> None:
        spec = {"action": action, "after": after, "once": once}
        (self.fault_dir / f"{point}@{self.where}").write_text(json.dumps(spec))

    def disarm(self, point: str) -> None:
        (self.fault_dir / f"{point}@{self.where}").unlink(missing_ok=True)

    @contextmanager
    def paused_at(self, point: str, work: Callable[[], Any], *, after: int = 0) -> Iterator[Future[Any]]:
        """Run `work` in a thread until it pauses at `point`; the body acts (stops a service...), then the work goes
        on. Yields the work's future (its result or exception once it ends)."""
        self.arm(point, "pause", after=after)
        paused = self.fault_dir / f"{point}@{self.where}.paused"
        future: Future[Any] = Future()

        def target() -> None:
            try:
                future.set_result(work())
            except BaseException as exc:  # noqa: BLE001 - handed to the test through the future
                future.set_exception(exc)

        thread = threading.Thread(target=target, name=f"fault-{point}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while not paused.exists():
            if future.done():
                future.result()  # the work ended without reaching the point: say why
                raise AssertionError(f"{point} was never reached")
            if time.monotonic() > deadline:
                raise AssertionError(f"{point} not reached in 120 s")
            time.sleep(0.1)
        try:
            yield future
        finally:
            paused.unlink(missing_ok=True)
            thread.join(timeout=240)
            assert not thread.is_alive(), f"the work paused at {point} did not end"

    # -- stages ------------------------------------------------------------------------------------------------

    def run(self, end: datetime, stages: tuple[str, ...] = STAGES) -> dict[str, Any]:
        """Stages of the run ending at `end`, in this process, carrying on from the run's earlier results."""
        run_id = run_id_for(end)
        results = self.results.setdefault(run_id, {})
        return run_stages(self.name, self.entity, run_id, end, stages=stages, results=results)

    def killed(self, end: datetime, stage: str, point: str, *, after: int = 0) -> None:
        """The stage in a process of its own, SIGKILLed at `point`, as a worker dying there would be."""
        run_id = run_id_for(end)
        self.arm(point, "kill", after=after)
        results_file = self.fault_dir / f"{run_id}.results.json"
        results_file.write_text(json.dumps(self.results.get(run_id, {})))
        env = {
            **os.environ,
            "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}",
            "INGEST_CONFIG_DIR": str(self.config_dir),
            FAULT_DIR_ENV: str(self.fault_dir),
        }
        script = REPO / "tests" / "integration" / "faults" / "stage_process.py"
        proc = subprocess.run(
            [sys.executable, str(script), self.name, self.entity, stage, run_id, end.isoformat(), str(results_file)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert proc.returncode == -signal.SIGKILL, (
            f"{stage} was meant to die at {point}, but exited {proc.returncode}:\n{proc.stdout[-2000:]}"
            f"{proc.stderr[-3000:]}"
        )
        assert not (self.fault_dir / f"{point}@{self.where}").exists(), f"{point} never fired"

    # -- the check -------------------------------------------------------------------------------------------

    def verdict(self, expected: dict[datetime, set[bytes]]) -> Verdict:
        """`expected`: for each run (by its interval end) that should have committed, the keys of the source rows
        of its window."""
        from ingestion.land.lake import Lake
        from ingestion.pipeline.landed_run import landing_paths, read_run_manifest
        from ingestion.pipeline.run_info import RunInfo
        from ingestion.plan_loader import load_entity_plan
        from ingestion.state.store import open_control_store

        expected_by_id = {run_id_for(end): keys for end, keys in expected.items()}
        per_run: dict[str, Counter[bytes]] = defaultdict(Counter)
        for key, _, headers in read_committed(self.topic):
            if "ingest_run_id" in headers:  # messages of other producers are not the platform's to count
                per_run[headers["ingest_run_id"].decode()][key or b""] += 1
        with open_control_store() as store:
            committed = {r.run_id: r for r in store.runs(self.name, self.entity, limit=1000)}
            moves = [
                h for h in store.history(self.name, self.entity, limit=1000) if h.changed_by.startswith("airflow:")
            ]
        lost = sum(len(keys - set(per_run.get(run_id, Counter()))) for run_id, keys in expected_by_id.items())
        duplicated = 0
        for run_id, counts in per_run.items():
            # A message of a run that never committed, or of a row outside its run's window, is one too many.
            wanted = expected_by_id.get(run_id, set()) if run_id in committed else set()
            duplicated += sum(n - 1 for n in counts.values()) + sum(n for k, n in counts.items() if k not in wanted)
        missing_runs = sorted(set(expected_by_id) - set(committed))
        assert not missing_runs, f"run(s) {missing_runs} did not commit"

        plan = load_entity_plan(self.name, self.entity, config_dir=self.config_dir)
        lake = Lake.from_conn_id(plan.landing.conn_id, plan.landing.container)
        stray: list[str] = []
        for run_id, record in committed.items():
            end = datetime.fromisoformat(run_id.removeprefix("scheduled__"))
            run = RunInfo(record.dag_id, run_id, "scheduled", None, end, end)
            manifest = read_run_manifest(plan, run, lake)
            listed = {f.path for f in manifest.files} | {landing_paths(plan, run).manifest}
            stray += [name for name in lake.names(landing_paths(plan, run).run_prefix) if name not in listed]
        return Verdict(lost, duplicated, len(moves), stray)
