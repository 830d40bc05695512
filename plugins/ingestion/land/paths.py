"""Landing paths. Pure: date and stamp come from the run, never the wall clock, so a re-run overwrites its own files.

<source>/<entity>/date=YYYY-MM-DD/<source>_<entity>_<stamp>_NNNN.<ext>      (parts, in <container>)
<source>/<entity>/date=YYYY-MM-DD/<source>_<entity>_<stamp>_manifest.json  (written last)

A partitioned run (load.partitions) lands each partition's parts and manifest under its own names, and the run's
manifest, assembled from them before validate, lists every partition's parts:

<source>/<entity>/date=YYYY-MM-DD/<source>_<entity>_<stamp>_pKK-NNNN.<ext>      (partition KK's parts)
<source>/<entity>/date=YYYY-MM-DD/<source>_<entity>_<stamp>_pKK-manifest.json   (partition KK's manifest)

<stamp> is YYYYMMDDHHMMSS, followed by the microseconds (ffffff) when the run's instant has any: scheduled and
backfill runs are named after their data interval end (whole seconds), manual runs after their run_after, so two
manual runs in the same second, or a manual run and a scheduled one, never share a name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    partition: int | None = None  # the partition's names (load.partitions), or the run's own

    def of_partition(self, partition: int | None) -> LandingPaths:
        return replace(self, partition=partition)

    @property
    def prefix(self) -> str:
        return f"{self.source}/{self.entity}/date={self.stamp:%Y-%m-%d}/"

    @property
    def run_prefix(self) -> str:
        """Every blob of this run (parts and manifest) starts with this."""
        return _run_prefix(self.source, self.entity, f"{self.stamp:%Y-%m-%d}", stamp_text(self.stamp))

    @property
    def names_prefix(self) -> str:
        """Every blob these paths name starts with this: the run's prefix, or its partition's."""
        if self.partition is None:
            return self.run_prefix
        if not 0 <= self.partition <= 99:
            raise ValueError(f"partition {self.partition} outside 0..99")
        return f"{self.run_prefix}p{self.partition:02d}-"

    def part(self, index: int) -> str:
        if not 0 <= index <= 9999:
            raise ValueError(f"part index {index} outside 0..9999")
        return f"{self.names_prefix}{index:04d}.{self.extension}"

    @property
    def manifest(self) -> str:
        return f"{self.names_prefix}manifest.json"

    def range_cuts(self, column: str, count: int) -> str:
        """A run read in ranges of `column` (load.partitions.ranges): its cut points for `count` partitions."""
        return f"{self.run_prefix}ranges-{column}-n{count}.json"

    def agreed_window(self, change: int) -> str:
        """A partitioned incremental run (load.partitions): the window every partition reads, decided when `change`
        was the entity's latest watermark change made by hand."""
        return f"{self.run_prefix}window-m{change}.json"

    @property
    def run_manifest(self) -> str:
        """The run's manifest, also from a partition's paths."""
        return f"{self.run_prefix}manifest.json"
