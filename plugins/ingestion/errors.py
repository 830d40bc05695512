"""The platform's exception roots, and the errors that belong to no one package.

Every error the platform raises on purpose is an IngestionError, and each is exactly one of:
- TerminalError: retrying cannot help (a config or key problem, a refused check, a watermark conflict, a missing
  manifest, a landing that changed). A stage fails at once, without using its retries, and the message says what
  a person must do.
- TransientError: the same attempt may succeed later (a service down, a 5xx, a run to wait for). Airflow's retries
  take over.

Each package keeps its own errors in its `errors.py` (extract, land, publish, validate, pii, pipeline, state,
notify). An error carries where it happened (`source`, `entity`, `run_id`) when the raiser knows it; the stage
operator fills in what is missing before the error leaves the task, so logs and alerts can name the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class IngestionError(Exception):
    """Base of every error the platform raises on purpose. Do not raise it directly: raise a TerminalError or a
    TransientError subclass, so whoever catches it knows whether to retry."""

    terminal: ClassVar[bool] = False

    def __init__(
        self, *args: object, source: str | None = None, entity: str | None = None, run_id: str | None = None
    ) -> None:
        super().__init__(*args)
        self.source = source
        self.entity = entity
        self.run_id = run_id

    def located(self, *, source: str, entity: str, run_id: str | None) -> IngestionError:
        """The error with where it happened filled in (what the raiser already set stays)."""
        self.source = self.source or source
        self.entity = self.entity or entity
        self.run_id = self.run_id or run_id
        return self


class TerminalError(IngestionError):
    """Retrying cannot help: the stage fails at once instead of using its retries."""

    terminal = True


class TransientError(IngestionError):
    """The same attempt may succeed later: Airflow's retries take over."""


class InvalidSourceConfigError(TerminalError):
    """One or more source configs failed validation; each line names a file, a JSON path and what was expected."""

    def __init__(self, errors: Sequence[object]) -> None:
        self.errors = list(errors)
        files = sorted({str(getattr(e, "file", "?")) for e in self.errors})
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(
            f"{len(files)} source config file(s) are invalid; their DAGs are not built, every other source's DAG "
            f"is unaffected. Run `scripts/ingest validate` to see this list locally.\n{lines}"
        )


class UnknownSourceError(TerminalError, KeyError):
    """A source or entity name that no valid config defines."""

    def __str__(self) -> str:  # KeyError would print the repr of the message, quotes and all
        return str(self.args[0]) if self.args else ""


class StageNotImplementedError(TerminalError, NotImplementedError):
    """A pipeline stage that the platform does not implement yet for this kind of source."""


class StageResultError(TerminalError):
    """A stage result or manifest that is not what the platform writes: a field is missing or of the wrong type."""


class InjectedFaultError(TransientError):
    """A fault a test armed (action `raise`); transient, like the failures it stands for."""


class InfraVarsError(TerminalError):
    """The source configs ask for a storage layout the infrastructure cannot express (too many lifecycle rules, a
    container used for both general and sensitive data, two entities whose rule names collide)."""
