"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TerminalError


class AccessSyncError(TerminalError):
    """The team roles cannot be written: Airflow is not using the FAB auth manager, or the roles did not come out as
    the configs say. Someone has to fix the deployment's settings; retrying cannot help."""
