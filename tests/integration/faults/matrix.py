"""The fault matrix's results as a table: each row recorded by the test that measured it (`record`), written into
docs/reliability.md between two markers at the end of a session in which every row was recorded
(tests/integration/conftest.py). In CI (`CI` set) a page whose table differs from what the suite measured fails
the run instead, so the committed table is the suite's own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.integration.faults.harness import Verdict

START = "<!-- fault-matrix:start (written by tests/integration/faults; do not edit) -->"
END = "<!-- fault-matrix:end -->"
HEADER = (
    "| fault | where injected | rows lost | rows duplicated | watermark moves (one per committed run) | outcome |",
    "|---|---|---|---|---|---|",
)


SIZE = 15  # rows in the table: docs/reliability.md is written only when every one of them ran and passed


@dataclass(frozen=True)
class FaultRow:
    order: int  # the row's place in the table, fixed, so the table does not depend on the order tests ran in
    fault: str
    where: str
    rows_lost: str
    rows_duplicated: str
    watermark_moves: str
    outcome: str

    @classmethod
    def measured(cls, order: int, fault: str, where: str, verdict: Verdict, outcome: str) -> FaultRow:
        return cls(
            order,
            fault,
            where,
            str(verdict.rows_lost),
            str(verdict.rows_duplicated),
            str(verdict.watermark_moves),
            outcome,
        )

    def markdown(self) -> str:
        cells = (self.fault, self.where, self.rows_lost, self.rows_duplicated, self.watermark_moves, self.outcome)
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def render(rows: list[FaultRow]) -> str:
    return "\n".join([*HEADER, *(row.markdown() for row in sorted(rows, key=lambda r: r.order))])


def update_readme(readme: Path, rows: list[FaultRow]) -> None:
    """Put the table between the markers; in CI, fail if the committed one differs instead of writing."""
    text = readme.read_text()
    before, start, rest = text.partition(START)
    _, end, after = rest.partition(END)
    if not (start and end):
        raise AssertionError(f"{readme.name} has no fault-matrix markers ({START} ... {END})")
    wanted = f"{before}{START}\n{render(rows)}\n{END}{after}"
    if wanted == text:
        return
    if os.environ.get("CI"):
        raise AssertionError(
            f"{readme.name}'s fault-matrix table is not what this run measured; run the suite locally (it rewrites "
            f"the table) and commit it. Measured:\n{render(rows)}"
        )
    readme.write_text(wanted)


ROWS: list[FaultRow] = []


def record(row: FaultRow) -> None:
    ROWS.append(row)


def complete() -> bool:
    return sorted(row.order for row in ROWS) == list(range(1, SIZE + 1))
