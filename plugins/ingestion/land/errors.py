"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TerminalError


class LandingCollisionError(TerminalError):
    """The run's landing names already hold another run's manifest: landing would overwrite that run's files."""
