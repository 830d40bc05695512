"""A kind of source as the one extract_land driver (pipeline/extract_driver.py) sees it.

A source does only what is particular to its kind: check its config, work out its cursor and window, stream its
records as Arrow batches, and say what it learnt (facts for the manifest). Everything else is the driver's: the PII
keys, the run guard (already committed, already publishing), masking and landing, ties at the watermark, the
manifest and the result. A kind's action after commit (the SFTP archive move) is the source's too.

The driver calls, for one run: `check_config`, `open`, then with the control store (after the run guard) `prepare`,
then `batches` (to the end, or closed on failure), `new_watermark`, `facts` and `describe`, and `close` always.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ingestion.pipeline.errors import ConfigNotSupportedError

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.config.models import Column
    from ingestion.extract.cursor import Cursor
    from ingestion.extract.record_typing import Rejected
    from ingestion.extract.window import Window
    from ingestion.land.landing_facts import LandingFacts
    from ingestion.pipeline.contracts import LandedRun
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan
    from ingestion.state.store import ControlStore, Watermark


@dataclass(frozen=True)
class SourceBatch:
    """Records read from the source, typed; for sources that type records on the way in, what came with them."""

    batch: pa.RecordBatch
    rejected: Sequence[Rejected] = ()  # records that did not fit the declared columns (to the quarantine)
    seen: int = 0  # records received for this batch, landed or not
    outside_window: int = 0  # records received but outside the run's window (dropped, counted)


@dataclass(frozen=True)
class SourceRead:
    """What a run reads, decided before reading: the cursor, the window (None: no row window, e.g. files) and the
    columns it lands (the declared ones, or as schema drift left them)."""

    cursor: Cursor
    window: Window | None
    columns: tuple[Column, ...]


class Source(ABC):
    """One run's read of one entity's source."""

    kind: ClassVar[str] = ""
    # Records typed on the way in (REST, files): rejected ones go to a quarantine and every record is counted.
    counts_records: ClassVar[bool] = False

    def __init__(self, plan: EntityPlan, run: RunInfo) -> None:
        self.plan = plan
        self.run = run
        self.where = f"{plan.source}.{plan.entity.name}"
        self._read: SourceRead | None = None

    @property
    def read(self) -> SourceRead:
        assert self._read is not None, "prepare() first"
        return self._read

    @abstractmethod
    def check_config(self) -> None:
        """Refuse (ConfigNotSupportedError) what this kind cannot do, before any key is loaded or source touched."""

    def open(self) -> None:  # noqa: B027 - optional: most kinds open what they need in batches()
        """Resources the read needs, made before the run guard (close() releases them)."""

    @abstractmethod
    def prepare(self, store: ControlStore) -> SourceRead:
        """The run's cursor, window and columns (the control store is open; the run may read)."""

    def adopt(self, read: SourceRead) -> None:
        """Read `read` instead of what `prepare` decided: a partition of a partitioned run reads the run's window
        (pipeline/partition_agreement.py)."""
        self._read = read

    @abstractmethod
    def batches(self) -> Generator[SourceBatch, None, None]:
        """The run's records. The driver closes the generator when it stops early, so a source's cursors and
        connections end with it."""

    def new_watermark(self, highest_landed: Any) -> Any:
        """The value commit moves the watermark to; `highest_landed` is the highest cursor value landed when the
        window's high end is learnt from the rows (see Cursor.learns_high), else None."""
        window = self.read.window
        assert window is not None
        return self.read.cursor.next_value(window, highest_landed)

    @abstractmethod
    def facts(self, new_watermark: Any, *, left_out: int) -> LandingFacts:
        """What the manifest records of the read (the landing adds its own counts); `left_out` counts the rows tied
        with the watermark that were left out (pipeline/boundary_ties.py)."""

    def describe(self) -> str:
        """The run's window as the manifest and the UI show it."""
        window = self.read.window
        return window.describe() if window is not None else ""

    def read_from(self) -> str:
        """Where the rows came from, for the run's closing log line (e.g. "from 3 request(s)")."""
        return ""

    def close(self) -> None:  # noqa: B027 - optional, as open()
        """Release what open() made."""

    def key_range(self) -> tuple[int | None, int | None]:
        """load.partitions.ranges: the partition column's min and max now (config allows ranges for SQL only)."""
        raise ConfigNotSupportedError(f"{self.where}: a {self.kind} source is not read in ranges")

    def read_range(self, cuts: tuple[int, ...]) -> None:
        """load.partitions.ranges: read this task's partition as the range between the run's `cuts`."""
        raise ConfigNotSupportedError(f"{self.where}: a {self.kind} source is not read in ranges")

    def after_commit(self, landed: LandedRun) -> tuple[str, ...]:
        """The kind's action once the run committed (never for a re-run of a committed run); returns what it moved.
        Must not raise for what it cannot do: the run is committed either way."""
        return ()

    # -- helpers for the kinds ---------------------------------------------------------------------------------

    def stored_watermark(self, store: ControlStore) -> Watermark | None:
        return store.get_watermark(self.plan.source, self.plan.entity.name)

    def require_declared_columns(self, why: str) -> None:
        if not self.plan.entity.columns:
            raise ConfigNotSupportedError(f"{self.where}: declare the entity's columns; {why}")
