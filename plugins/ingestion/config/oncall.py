"""On-call rotations (`_oncall.json` in the config folder) and who is on call at a given time. Pure apart from reading
the file.

Per team: its members in rotation order, the team lead, the weekly hand-over (weekday and UTC time) and the week the
rotation starts (`start`: the first hand-over at or after that date puts `members[0]` on call). The member after the
one on call is the backup. A holiday override names two engineers (on call and backup) for a period and wins over the
rotation while it lasts; of overlapping overrides, the one listed first wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from ingestion.config.config_files import FileProblem, json_path_step, read_config_file
from ingestion.config.credentials import find_credentials
from ingestion.config.loader import ConfigError
from ingestion.config.models import Frozen
from ingestion.errors import InvalidSourceConfigError

ONCALL_FILE = "_oncall.json"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Email = str  # an address; the models check its shape


def _is_email(value: str) -> bool:
    name, at, domain = value.partition("@")
    return bool(name and at and "." in domain and " " not in value)


class Handover(Frozen):
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    time: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, UTC")


class Override(Frozen):
    start: datetime = Field(description="when the override begins (ISO 8601 with a time zone)")
    end: datetime = Field(description="when it ends, exclusive")
    primary: Email = Field(description="on call during the period")
    secondary: Email = Field(description="backup during the period")
    reason: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _valid(self) -> Override:
        for name in ("start", "end"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} needs a time zone (e.g. 2026-12-24T09:00:00Z)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        for name in ("primary", "secondary"):
            if not _is_email(getattr(self, name)):
                raise ValueError(f"{name} must be an e-mail address")
        if self.primary == self.secondary:
            raise ValueError("primary and secondary must be two engineers")
        return self


class Rotation(Frozen):
    lead: Email = Field(description="the team lead: critical incidents reach them at once")
    members: tuple[Email, ...] = Field(min_length=1, description="on call in this order, one week each")
    handover: Handover
    start: date = Field(description="the rotation's first week begins at the first hand-over on or after this date")
    overrides: tuple[Override, ...] = ()

    @model_validator(mode="after")
    def _valid(self) -> Rotation:
        for i, member in enumerate(self.members):
            if not _is_email(member):
                raise ValueError(f"members[{i}] must be an e-mail address")
        if len(set(self.members)) != len(self.members):
            raise ValueError("members must be distinct")
        if not _is_email(self.lead):
            raise ValueError("lead must be an e-mail address")
        return self


class OnCallConfig(Frozen):
    schema_ref: str | None = Field(default=None, alias="$schema")
    teams: dict[str, Rotation] = Field(default_factory=dict, description="owning team (owners.team) -> rotation")


@dataclass(frozen=True)
class OnCall:
    team: str
    primary: str
    secondary: str | None
    lead: str
    reason: str  # "rotation, week of 2026-11-30" or the override's reason
    until: datetime  # the next hand-over or the end of the override


def first_handover(rotation: Rotation) -> datetime:
    hours, minutes = (int(part) for part in rotation.handover.time.split(":"))
    start = datetime.combine(rotation.start, time(hours, minutes), tzinfo=UTC)
    return start + timedelta(days=(WEEKDAYS.index(rotation.handover.weekday) - start.weekday()) % 7)


def on_call(team: str, rotation: Rotation, at: datetime) -> OnCall:
    """Who is on call for `team` at `at` (timezone-aware): an override covering `at`, else the weekly rotation
    (before the first hand-over, the last member's week is still running)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    for override in rotation.overrides:
        if override.start <= at < override.end:
            reason = f"override: {override.reason}" if override.reason else "override"
            return OnCall(team, override.primary, override.secondary, rotation.lead, reason, override.end)
    first = first_handover(rotation)
    week = (at - first) // timedelta(weeks=1)
    members = rotation.members
    begun = first + timedelta(weeks=week)
    backup = members[(week + 1) % len(members)] if len(members) > 1 else None
    return OnCall(
        team,
        members[week % len(members)],
        backup,
        rotation.lead,
        f"rotation, week from {begun:%Y-%m-%d %H:%M} UTC",
        begun + timedelta(weeks=1),
    )


def load_oncall(folder: Path) -> OnCallConfig:
    """The folder's `_oncall.json` (none: no rotations); raises InvalidSourceConfigError naming the file, the JSON
    path and what was expected."""
    path = folder / ONCALL_FILE
    if not path.exists():
        return OnCallConfig()
    data = read_config_file(path)
    if isinstance(data, FileProblem):
        raise InvalidSourceConfigError([ConfigError(ONCALL_FILE, data.path, data.message)])
    # Checked like every other file of the folder: it is committed and shown in runbooks.
    if credentials := find_credentials(data):
        raise InvalidSourceConfigError([ConfigError(ONCALL_FILE, where, why) for where, why in credentials])
    try:
        return OnCallConfig.model_validate(data)
    except ValidationError as error:
        problems = [
            ConfigError(ONCALL_FILE, "$" + "".join(json_path_step(step) for step in e["loc"]), e["msg"])
            for e in error.errors()
        ]
        raise InvalidSourceConfigError(problems) from None
