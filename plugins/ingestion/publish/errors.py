"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TerminalError, TransientError


class UnsupportedJsonTypeError(TerminalError, TypeError):
    pass


class PublishError(TransientError):
    """Publishing failed; the transaction was aborted and nothing of the attempt is visible to read_committed."""


class PublishCountMismatchError(PublishError):
    """The broker holds a different number of new messages than the run landed."""


class TransactionTimeoutRefusedError(TerminalError):
    """The broker's transaction.max.timeout.ms is below the entity's transaction timeout: no retry can help."""


class PublishedOtherLandingError(TerminalError):
    """The publish log holds the run with a different landing: the run was landed again after it published."""


class MessageTooLargeError(TerminalError):
    """A landed row encodes to a message larger than the producer may send: every retry would refuse it again."""
