"""Arrow's memory pool for stage processes: jemalloc returning freed memory to the OS at once.

Arrow's default pool (mimalloc) keeps freed pages for reuse, so a stage that streams a million rows through
Parquet batches kept ~100 MB more resident than it ever used at once (bench/README.md). Each Airflow task is
its own process, so switching the process-wide default at the start of a stage is safe.
"""

from __future__ import annotations


def use_lean_arrow_pool() -> None:
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc: keep the default
        return
    pa.set_memory_pool(pool)
    pa.jemalloc_set_decay_ms(0)
