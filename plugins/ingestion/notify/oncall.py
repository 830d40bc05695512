"""Who an alert is addressed to: the engineer on call for its team at the time of the alert, and on a critical
incident the team lead as well.

With a rotation for the alert's team in `_oncall.json` (config.oncall), the alert's owner becomes the engineer on call
and its secondary owner the backup, so the card, the e-mail and a later escalation name the people on duty when it
fired; teams without a rotation keep the config's owners. A critical incident is a failure where data loss is
suspected: a reconciliation check failed, a publish was aborted because the broker's count differed from the rows
landed (or commit found such a publish), or the watermark changed under the run. It is raised to critical and names
the lead, whose address the e-mail adds, at once rather than after the escalation delay.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ingestion.notify.alert import short_error

if TYPE_CHECKING:
    from pathlib import Path

    from ingestion.config.oncall import OnCallConfig
    from ingestion.notify.alert import Alert

log = logging.getLogger(__name__)


def data_loss_suspected(error: BaseException | None) -> bool:
    from ingestion.pipeline.errors import (
        CommitConflictError,
        CountMismatchError,
        ValidationFailedError,
    )
    from ingestion.publish.errors import PublishCountMismatchError
    from ingestion.state.errors import WatermarkConflictError

    # A stage raises a terminal error as AirflowFailException(...) from it: the platform's error is the cause.
    while error is not None:
        if isinstance(
            error, (PublishCountMismatchError, CountMismatchError, WatermarkConflictError, CommitConflictError)
        ):
            return True
        if isinstance(error, ValidationFailedError) and "reconciliation" in error.failed_kinds:
            return True
        error = error.__cause__
    return False


def rotations(folder: Path | None = None) -> OnCallConfig:
    """The config folder's rotations; none when `_oncall.json` is missing or invalid (logged: the alert then goes to
    the config's owners rather than nowhere)."""
    from ingestion.config.oncall import OnCallConfig, load_oncall
    from ingestion.errors import InvalidSourceConfigError
    from ingestion.paths import config_dir

    try:
        return load_oncall(folder or config_dir())
    except InvalidSourceConfigError as error:
        log.error("on-call rotations not used, alerts go to the config's owners: %s", short_error(error))
        return OnCallConfig()


def addressed(alert: Alert, config: OnCallConfig, at: datetime | None = None, *, critical: bool = False) -> Alert:
    """The alert addressed to who is on call for its team at `at` (default now); with `critical`, raised to critical
    severity and naming the team lead (from the rotation, else none)."""
    from ingestion.config.oncall import on_call

    rotation = config.teams.get(alert.team)
    if rotation is not None:
        duty = on_call(alert.team, rotation, at or datetime.now(UTC))
        alert = replace(alert, owner=duty.primary, secondary_owner=duty.secondary or alert.secondary_owner)
    if critical:
        lead = rotation.lead if rotation is not None else None
        alert = replace(alert, severity="critical", lead=lead, title=f"{alert.title} (data loss suspected)")
    return alert
