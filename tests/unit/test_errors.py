"""Every error the platform raises says whether retrying can help: exactly one of TerminalError and TransientError,
kept in its package's errors module (or in ingestion.errors)."""

from __future__ import annotations

import importlib
import pkgutil

import ingestion
from ingestion.errors import IngestionError, TerminalError, TransientError

ROOTS = {IngestionError, TerminalError, TransientError}


def _all_errors() -> set[type[IngestionError]]:
    for module in pkgutil.walk_packages(ingestion.__path__, "ingestion."):
        if ".migrations" not in module.name:  # Alembic's env runs migrations when imported
            importlib.import_module(module.name)
    found: set[type[IngestionError]] = set()
    todo = [IngestionError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("ingestion.") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return found - ROOTS


def test_every_error_is_terminal_or_transient_not_both() -> None:
    errors = _all_errors()
    assert len(errors) > 30  # the walk found the platform's errors
    both = sorted(e.__name__ for e in errors if issubclass(e, TerminalError) and issubclass(e, TransientError))
    neither = sorted(e.__name__ for e in errors if not issubclass(e, (TerminalError, TransientError)))
    assert both == []
    assert neither == []
    assert all(e.terminal == issubclass(e, TerminalError) for e in errors)


def test_errors_live_in_errors_modules() -> None:
    misplaced = sorted(
        f"{e.__module__}.{e.__name__}"
        for e in _all_errors()
        if e.__module__ != "ingestion.errors" and not e.__module__.endswith(".errors")
    )
    assert misplaced == []


def test_the_cases_the_platform_promises() -> None:
    from ingestion.pipeline.errors import CommitConflictError, ManifestMissingError, ValidationFailedError
    from ingestion.publish.errors import PublishError
    from ingestion.state.errors import ControlDbLookupError, WatermarkConflictError

    # A watermark conflict, a missing manifest, a failed check, a config error: retrying cannot help.
    for terminal in (CommitConflictError, WatermarkConflictError, ManifestMissingError, ValidationFailedError):
        assert terminal.terminal, terminal
    # Kafka or a secrets backend unreachable: the next try may pass.
    for transient in (PublishError, ControlDbLookupError):
        assert not transient.terminal, transient
