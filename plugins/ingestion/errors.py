"""One exception base for the platform, with specific subclasses, so callers can tell what went wrong."""

from __future__ import annotations

from collections.abc import Sequence


class IngestionError(Exception):
    """Base of every error the platform raises on purpose."""


class InvalidSourceConfigError(IngestionError):
    """One or more source configs failed validation; each line names a file, a JSON path and what was expected."""

    def __init__(self, errors: Sequence[object]) -> None:
        self.errors = list(errors)
        files = sorted({str(getattr(e, "file", "?")) for e in self.errors})
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(
            f"{len(files)} source config file(s) are invalid; their DAGs are not built, every other source's DAG "
            f"is unaffected. Run `scripts/ingest validate` to see this list locally.\n{lines}"
        )


class UnknownSourceError(IngestionError, KeyError):
    """A source or entity name that no valid config defines."""

    def __str__(self) -> str:  # KeyError would print the repr of the message, quotes and all
        return str(self.args[0]) if self.args else ""


class StageNotImplementedError(IngestionError, NotImplementedError):
    """A pipeline stage that the platform does not implement yet for this kind of source."""


class NotRetriableError(IngestionError):
    """Retrying cannot help (a config or key problem): the stage fails at once instead of using its retries."""
