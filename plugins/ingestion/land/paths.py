"""Landing paths. Pure: date and stamp come from the run, never the wall clock, so a re-run overwrites its own files.

<source>/<entity>/date=YYYY-MM-DD/<source>_<entity>_<stamp>_NNNN.<ext>      (parts, in <container>)
<source>/<entity>/date=YYYY-MM-DD/<source>_<entity>_<stamp>_manifest.json  (written last)

<stamp> is YYYYMMDDHHMMSS, followed by the microseconds (ffffff) when the run's instant has any: scheduled and
backfill runs are named after their data interval end (whole seconds), manual runs after their run_after, so two
manual runs in the same second, or a manual run and a scheduled one, never share a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


def run_stamp(*, data_interval_end: datetime | None, run_after: datetime | None) -> datetime:
    """The instant a run's files are named after: its data interval end, or run_after for manual runs."""
    stamp = data_interval_end or run_after
    if stamp is None:
        raise ValueError("a run needs a data interval end or a run_after to name its files")
    return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _run_prefix(source: str, entity: str, day: str, stamp: str) -> str:
    return f"{source}/{entity}/date={day}/{source}_{entity}_{stamp}_"


def path_pattern(container: str, source: str, entity: str, extension: str) -> str:
    """The convention in words, for runbooks and the inventory: the same function names the real files."""
    return f"{container}/{_run_prefix(source, entity, 'YYYY-MM-DD', '<YYYYMMDDHHMMSS[ffffff]>')}NNNN.{extension}"


def stamp_text(stamp: datetime) -> str:
    """The run's instant in file names: seconds, and microseconds only when there are any."""
    return f"{stamp:%Y%m%d%H%M%S%f}" if stamp.microsecond else f"{stamp:%Y%m%d%H%M%S}"


@dataclass(frozen=True)
class LandingPaths:
    container: str
    source: str
    entity: str
    stamp: datetime
    extension: str = "parquet"

    @property
    def prefix(self) -> str:
        return f"{self.source}/{self.entity}/date={self.stamp:%Y-%m-%d}/"

    @property
    def run_prefix(self) -> str:
        """Every blob of this run (parts and manifest) starts with this."""
        return _run_prefix(self.source, self.entity, f"{self.stamp:%Y-%m-%d}", stamp_text(self.stamp))

    def part(self, index: int) -> str:
        if not 0 <= index <= 9999:
            raise ValueError(f"part index {index} outside 0..9999")
        return f"{self.run_prefix}{index:04d}.{self.extension}"

    @property
    def manifest(self) -> str:
        return f"{self.run_prefix}manifest.json"
