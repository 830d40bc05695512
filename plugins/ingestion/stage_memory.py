"""Memory settings for a stage's process, so streaming many rows keeps its resident size flat.

- Arrow's pool: jemalloc returning freed memory to the OS at once. Arrow's default pool (mimalloc) keeps freed
  pages for reuse, so a stage that streams a million rows through Parquet batches kept ~100 MB more resident than
  it ever used at once.
- glibc malloc (the Python objects, the Azure SDK's download buffers, librdkafka): a fixed mmap threshold of
  1 MiB. By default glibc raises the threshold each time a large block is freed, after which the multi-megabyte
  buffers of each download land in the heap and fragment it: publish of 5M rows grew to ~410 MB with it, and
  stayed near 340 MB with the fixed threshold (bench/README.md).

Each Airflow task is its own process, so changing process-wide settings at the start of a stage is safe.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# From glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1024 * 1024
TRIM_THRESHOLD_BYTES = 8 * 1024 * 1024


def use_lean_memory() -> None:
    _use_lean_arrow_pool()
    _tune_glibc_malloc()


def _use_lean_arrow_pool() -> None:
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc: keep the default
        return
    pa.set_memory_pool(pool)
    pa.jemalloc_set_decay_ms(0)


@functools.cache
def _tune_glibc_malloc() -> bool:
    """True when glibc took the settings; elsewhere (musl, macOS) nothing changes."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # mallopt returns 1 on success, 0 on error.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
