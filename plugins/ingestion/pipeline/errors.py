"""Errors of this package, each terminal (retrying cannot help) or transient (Airflow's retries may)."""

from __future__ import annotations

from ingestion.errors import TerminalError, TransientError


class PreviousRunNotCommittedError(TransientError):
    """An earlier run of the entity may have published its window and never committed: this one must wait."""


class ValidationFailedError(TerminalError):
    """At least one error-severity check failed. Retrying validate over the same files gives the same answer, so
    the task fails at once; the fix is in the source, the config, or a re-run from extract_land. `failed_kinds`: the
    kinds of the failed checks (a failed `reconciliation` suspects data loss, see notify.oncall)."""

    def __init__(self, *args: object, failed_kinds: tuple[str, ...] = (), **where: str | None) -> None:
        super().__init__(*args, **where)
        self.failed_kinds = failed_kinds


class ManifestMissingError(TerminalError):
    """A later stage found no manifest for its run: extract_land did not finish for this run."""


class PublishLayoutError(TerminalError):
    """The run was landed split in another way than its publish tasks now are (load.partitions changed since)."""


class PartitionsDisagreeError(TerminalError):
    """The partitions of a partitioned run landed different windows or schemas: they cannot make one run."""


class WatermarkMovedError(TerminalError):
    """The entity's watermark moved after the run landed its window and before anything was published."""


class RunSupersededError(TerminalError):
    """Another run read the same window (from the same watermark) and committed it first: this run's landing is
    stale and must not be published. Not a failure: the runs after it read on from the watermark that run left."""


class StageResultMissingError(TerminalError):
    """A stage before commit left no result: it did not run for this run."""


class CommitConflictError(TerminalError):
    """The watermark was moved after the run read it; the run has published, so it cannot simply start again."""


class ConfigNotSupportedError(TerminalError):
    """The config asks for something this stage cannot do safely."""


class CountMismatchError(TerminalError):
    """Commit found a publish result whose message count differs from the rows landed: the same commit would find
    it again."""
