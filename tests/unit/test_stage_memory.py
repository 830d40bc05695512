"""The stage process's memory settings take effect: Arrow on jemalloc, glibc's mmap threshold fixed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_lean_memory_switches_arrow_to_jemalloc_and_glibc_takes_the_threshold() -> None:
    # A fresh interpreter: the settings are process-wide, and the test process must keep its own.
    code = textwrap.dedent(
        """
        import pyarrow as pa
        from ingestion.stage_memory import _tune_glibc_malloc, use_lean_memory
        use_lean_memory()
        print(pa.default_memory_pool().backend_name, _tune_glibc_malloc())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": "plugins"},
    ).stdout.split()
    assert out == ["jemalloc", "True"]
