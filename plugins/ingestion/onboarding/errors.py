"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TerminalError


class ScaffoldError(TerminalError):
    """The source cannot be drafted as asked: no such table, no list at the record path, no matching file. The
    message names what was asked for, never a value read from the source."""
