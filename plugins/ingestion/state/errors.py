"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TerminalError, TransientError


class ControlDbError(Exception):
    """Marks every failure to resolve or use the control database (the CLI catches it); each concrete error is also
    terminal or transient."""


class ControlDbConfigError(TerminalError, ControlDbError):
    """Not configured, or configured so that it cannot be used (an unparsable connection, a connection without a
    database URL): retrying cannot help."""


class ControlDbLookupError(TransientError, ControlDbError):
    """Looking the connection up failed in a way that may pass (a secrets backend or the API server unreachable):
    the task fails and may retry."""


class PublishTurnTimeoutError(TransientError, ControlDbError):
    """Another publish task held the entity's publish turn (state/entity_lock.py) too long: this attempt fails and
    Airflow retries it."""


class ControlSchemaError(TerminalError, ControlDbError):
    """The control database's schema is not the one this code needs (behind, ahead, or unrecognisable); retrying
    cannot help: someone has to run the upgrade (or deploy the code that matches it)."""


class WatermarkConflictError(TerminalError):
    """The watermark changed between the run's read and its commit (a manual set, or another run). Retrying the
    same commit meets the same value, so it fails at once; the commit stage says what to do."""


class LandingChangedError(TerminalError):
    """A run's publish began with one landing and now meets another: publishing would mix two reads of the source."""


class WatermarkValueError(TerminalError, ValueError):
    """A watermark value that cannot be read as its type; the message names the type and the accepted forms."""
