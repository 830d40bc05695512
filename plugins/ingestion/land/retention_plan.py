"""What retention does to an entity's partitions on a given day. Pure: the partitions, the day and whether a
partition's runs are committed come in; the actions (and the partitions held back, with why) go out.

A partition is one `date=YYYY-MM-DD/` folder of one entity in one zone:

    landing     <landing>/<source>/<entity>/date=YYYY-MM-DD/                  hot, then archive tier, then deleted
    sensitive   <sensitive>/<source>/<entity>/date=YYYY-MM-DD/                deleted, never archived (raw PII)
    quarantine  <sensitive>/<source>/<entity>/_quarantine/date=YYYY-MM-DD/    deleted, never archived (raw PII)

Its age is today minus the day in its folder name, never a blob's last-modified time (a re-run rewrites old days).
A partition older than its zone's period acts; whatever the periods, a partition holding a run that is not
committed is held, and so is the newest committed partition of the entity in each zone (the last good landing
stays readable however long the source has been quiet). Manifests stay in the hot tier: retention reads them to
know a partition's runs, and an archived blob cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ingestion.config.models import Retention

ARCHIVE_TIER = "Archive"
MANIFEST_SUFFIX = "_manifest.json"
_DAY_FOLDER = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})/")


class Zone(StrEnum):
    LANDING = "landing"
    SENSITIVE = "sensitive"
    QUARANTINE = "quarantine"


class ActionKind(StrEnum):
    ARCHIVE = "archive"
    DELETE = "delete"


@dataclass(frozen=True)
class StoredBlob:
    name: str
    size: int
    tier: str | None = None  # the blob's access tier as the service reports it (Hot, Cool, Archive)


@dataclass(frozen=True)
class Partition:
    zone: Zone
    container: str
    source: str
    entity: str
    day: date
    prefix: str  # the folder, e.g. crm/customers/date=2026-01-31/
    blobs: tuple[StoredBlob, ...]

    @property
    def where(self) -> str:
        return f"{self.container}/{self.prefix}"

    def run_stamps(self) -> frozenset[str] | None:
        """The run stamps its blobs are named after (`<source>_<entity>_<stamp>_...`); None when a blob is not
        named like a run's file (then nobody can say it is committed)."""
        head = f"{self.source}_{self.entity}_"
        stamps = set()
        for blob in self.blobs:
            base = blob.name.rsplit("/", 1)[-1]
            stamp = base[len(head) :].split("_", 1)[0] if base.startswith(head) else ""
            if not stamp.isdigit():
                return None
            stamps.add(stamp)
        return frozenset(stamps)


@dataclass(frozen=True)
class Periods:
    """A zone's periods in days: older partitions move to the archive tier (None: never) or are deleted."""

    archive_after_days: int | None
    delete_after_days: int
    archive_setting: str = ""  # the config fields they come from, for the reasons
    delete_setting: str = ""


def periods_for(retention: Retention, zone: Zone) -> Periods:
    """A zone's periods from its entity's retention. The sensitive and quarantine files of a run are known to be
    its own through its manifest in the landing container, so they never outlive the landing partition; an archive
    period not longer than the hot one deletes at raw_days, never archived (as the lifecycle rules do)."""
    keep = max(retention.raw_days, retention.archive_days)
    if zone is Zone.LANDING:
        archive_after = retention.raw_days if retention.archive_days > retention.raw_days else None
        return Periods(archive_after, keep, "retention.raw_days", "retention.archive_days")
    sensitive = min(retention.sensitive_days, keep)
    if zone is Zone.SENSITIVE:
        return Periods(None, sensitive, "", "retention.sensitive_days")
    return Periods(None, min(retention.quarantine_days, sensitive), "", "retention.quarantine_days")


def control_period(retention: Retention) -> int:
    """Days the control DB keeps an entity's rows: never fewer than its landing partitions are kept, since a
    partition is retention's to touch only while its runs' records say they committed."""
    return max(retention.control_days, retention.raw_days, retention.archive_days)


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    partition: Partition
    blobs: tuple[str, ...]  # the names it changes, in the order to change them (manifests last)
    bytes: int
    reason: str

    def line(self) -> str:
        """One line of the plan, the same in a dry run and an apply."""
        return (
            f"{self.kind.value} {self.partition.where}: {len(self.blobs)} blob(s), {self.bytes} bytes ({self.reason})"
        )


@dataclass(frozen=True)
class Held:
    partition: Partition
    reason: str

    def line(self) -> str:
        return f"hold {self.partition.where} ({self.reason})"


@dataclass(frozen=True)
class RetentionPlan:
    actions: tuple[Action, ...] = ()
    held: tuple[Held, ...] = ()

    def __add__(self, other: RetentionPlan) -> RetentionPlan:
        return RetentionPlan(self.actions + other.actions, self.held + other.held)

    def summary(self) -> str:
        def count(kind: ActionKind) -> str:
            chosen = [a for a in self.actions if a.kind is kind]
            return f"{len(chosen)} partition(s), {sum(a.bytes for a in chosen)} bytes"

        return (
            f"archive {count(ActionKind.ARCHIVE)}; delete {count(ActionKind.DELETE)}; "
            f"held back {len(self.held)} partition(s)"
        )


def partition_day(name: str) -> date | None:
    """The day of the `date=YYYY-MM-DD/` folder a blob is in; None when it is in none (or the day is no date)."""
    found = _DAY_FOLDER.search(name)
    if found is None:
        return None
    try:
        return date.fromisoformat(found.group(1))
    except ValueError:
        return None


def _manifests_last(blobs: Sequence[StoredBlob]) -> tuple[str, ...]:
    # Parts first: a delete cut short leaves the manifest, so the next run still knows whose partition it is.
    return tuple(sorted((b.name for b in blobs), key=lambda name: (name.endswith(MANIFEST_SUFFIX), name)))


def plan_entity(
    partitions: Sequence[Partition], periods: Periods, today: date, committed: Callable[[Partition], bool]
) -> RetentionPlan:
    """The plan for one entity's partitions in one zone. `committed(partition)` says whether every run with a file
    in it is committed; it is asked only about partitions old enough to act on and, newest first, until the newest
    committed one is found."""
    newest_first = sorted(partitions, key=lambda p: p.day, reverse=True)
    newest_committed: Partition | None = None
    for partition in newest_first:
        if committed(partition):
            newest_committed = partition
            break
    actions: list[Action] = []
    held: list[Held] = []
    for partition in newest_first:
        age = (today - partition.day).days
        if age > periods.delete_after_days:
            kind, changes, setting, days = (
                ActionKind.DELETE,
                tuple(partition.blobs),
                periods.delete_setting,
                periods.delete_after_days,
            )
        elif periods.archive_after_days is not None and age > periods.archive_after_days:
            changes = tuple(
                b for b in partition.blobs if b.tier != ARCHIVE_TIER and not b.name.endswith(MANIFEST_SUFFIX)
            )
            kind, setting, days = ActionKind.ARCHIVE, periods.archive_setting, periods.archive_after_days
        else:
            continue
        if not changes:
            continue  # archived already
        if partition is newest_committed:
            held.append(Held(partition, "the entity's newest committed partition"))
        elif not committed(partition):
            held.append(Held(partition, "holds a run that is not committed"))
        else:
            reason = f"{age} days old, {setting} is {days}"
            actions.append(Action(kind, partition, _manifests_last(changes), sum(b.size for b in changes), reason))
    return RetentionPlan(tuple(actions), tuple(held))
