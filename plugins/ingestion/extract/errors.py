"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TerminalError, TransientError


class SchemaMismatchError(TerminalError, ValueError):
    """The query returned different columns from the ones the config declares."""


class UnreadableFileError(TerminalError):
    """The file cannot be read as the config's format says (not gzip, not Parquet, wrong encoding...)."""


class LookbackUnitError(TerminalError, ValueError):
    """The lookback is in another unit than the cursor: minutes for timestamps, ids for integers."""


class PageCapExceededError(TerminalError):
    """The endpoint kept paging past the config's max_pages."""


class PagingLoopError(TerminalError):
    """The API answered a next page with one it had given before: it does not honour the paging parameters."""


class UnexpectedBodyError(TerminalError):
    """The body has no record list where the config's record_path says."""


class CursorConfigError(TerminalError):
    """The entity's load settings do not fit its cursor's values (a lookback in the other unit)."""


class UnknownColumnTypeError(TerminalError, ValueError):
    pass


class SourceRequestError(TerminalError):
    """The API refused the request (4xx other than 429): asking again would get the same answer."""


class SourceAuthError(SourceRequestError):
    """The API refused the credentials: fix the connection."""


class RetryableResponseError(TransientError):
    """429 or 5xx: worth asking again after a wait; raised for good when the tries run out."""

    def __init__(self, message: str, status: int, retry_after: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class SourceUnreachableError(TransientError):
    """The source did not answer (connection refused or reset, timeouts) on any of the tries: Airflow's retries may."""


class SourceCapExceededError(TerminalError):
    """The source sent more than one of the config's caps allows (a response, a nesting depth, a line, a file): the
    same data would exceed it again, so the stage fails at once; the message names the cap and where to raise it."""


class ResponseTooLargeError(SourceCapExceededError):
    """A response body, counted after decoding (gzip), larger than the source's http.max_response_bytes."""


class NestingTooDeepError(SourceCapExceededError):
    """A JSON document nested deeper than the config's max_json_depth."""


class RecordTooLargeError(SourceCapExceededError):
    """A CSV row or JSON Lines line longer than the locator's max_record_bytes."""


class FileTooLargeError(SourceCapExceededError):
    """A file larger, once decompressed, than the locator's max_file_bytes."""


class SourceDatabaseError(TerminalError):
    """The source database refused the read for a reason the same query would meet again (a value that does not
    parse, a missing table or column, a permission): said by its code and first line, values masked."""


class SourceDatabaseUnavailableError(TransientError):
    """The source database could not serve the read now (connection lost, deadlock, shutting down): retried."""


class PartitionNotSupportedError(TerminalError, ValueError):
    """The source's database has no way here to split the entity's rows as load.partitions asks."""
