"""One check's outcome. Its own module, without pyarrow, so the stages that only carry results (commit, alerts) do
not load pyarrow to read them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    passed: bool
    severity: str  # error: fails validate; warn: recorded and alerted, the run goes on
    detail: str
    observed: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
