"""Integration tests run against the real local stack started by `make stack-up` (or `make test`).

Its connections come from `.stack/env`, the same file Airflow and the demo use. No stack means a loud error,
never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.connections import read_env_file


@pytest.fixture(scope="session", autouse=True)
def stack_env() -> dict[str, str]:
    # Read when the session starts, not at import: a lane's worker has chosen its stack by then (tests/conftest.py).
    env_file = Path(os.environ.get("STACK_STATE_DIR", Path(__file__).resolve().parents[2] / ".stack")) / "env"
    if not env_file.exists():
        pytest.fail(f"{env_file} not found: start the local stack with `make stack-up` (make test does it for you)")
    values = read_env_file(env_file)
    os.environ.update(values)
    return values


@pytest.fixture(scope="session", autouse=True)
def control_db_schema(stack_env: dict[str, str]) -> None:
    """The stack's control database at this code's schema revision, once a session, as a deploy upgrades it before the
    new code serves (`scripts/ingest db upgrade`): the stages only check it."""
    from ingestion.state.engine import control_engine
    from ingestion.state.schema import upgrade

    engine = control_engine(allow_embedded=False)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def fault_matrix_table() -> Iterator[None]:
    """At the end of a session in which every fault-matrix row ran and passed, the table in docs/reliability.md is
    written from them (or, in CI, checked against them)."""
    from tests.integration.faults import matrix

    yield
    if matrix.complete():
        matrix.update_readme(Path(__file__).resolve().parents[2] / "docs" / "reliability.md", matrix.ROWS)


@pytest.fixture(scope="session")
def sample_api_url(stack_env: dict[str, str]) -> str:
    return stack_env["STACK_SAMPLE_API_URL"]


@pytest.fixture(scope="session")
def webhook_sink_url(stack_env: dict[str, str]) -> str:
    return stack_env["STACK_WEBHOOK_SINK_URL"]


@pytest.fixture(scope="session")
def smtp_sink_url(stack_env: dict[str, str]) -> str:
    return stack_env["STACK_SMTP_SINK_URL"]
