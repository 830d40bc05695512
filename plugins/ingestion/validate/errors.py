"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TerminalError


class SchemaDriftError(TerminalError):
    """The source's columns differ from the declared ones and the entity's policy says fail (or cannot land)."""
