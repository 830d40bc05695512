"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TransientError
from ingestion.notify.alert import short_error


class AlertStoreError(TransientError):
    """The alert store could not decide for a channel (unreachable, or failed); `done` holds the outcomes of the
    channels decided before it, so the caller can decide the rest elsewhere without posting twice."""

    def __init__(self, channel: str, done: dict[str, str], error: BaseException) -> None:
        super().__init__(f"the alert store could not decide for channel {channel!r}: {short_error(error)}")
        self.done = done


class AlertPostError(TransientError):
    """A channel refused or did not take an alert post (its message names the channel, never the webhook URL)."""
