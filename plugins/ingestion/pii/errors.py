"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TerminalError


class PiiKeyError(TerminalError):
    """A key that a PII strategy needs is missing or malformed. Raised before extraction starts."""
