"""The ingestion platform: JSON source configs in, production Airflow DAGs out.

Airflow puts `plugins/` on sys.path, so DAG files and workers import this package as `ingestion`.
Keep this module free of heavy imports: it is imported while DAG files are parsed.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
