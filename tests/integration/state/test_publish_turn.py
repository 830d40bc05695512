"""The entity's publish turn (state/entity_lock.py) on the stack's Postgres (the control database) and MariaDB (a
MySQL-family control database): while one holder has it, another process's connection cannot take it, a second
holder waits at most its bound and then fails with the entity named, and the turn is free again once the block ends,
also when it ends with an error."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from ingestion.extract.sql_engine import source_engine
from ingestion.state.engine import control_engine
from ingestion.state.entity_lock import publish_lock_key, publish_turn
from ingestion.state.errors import PublishTurnTimeoutError


def _free_on_postgres(engine: Engine) -> bool:
    """Whether another session can take the turn now (and gives it back at once)."""
    with engine.connect() as conn, conn.begin():
        return bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({publish_lock_key('s', 'e')})").scalar())


def _free_on_mysql(engine: Engine) -> bool:
    name = f"ingest_publish_{publish_lock_key('s', 'e') & 0xFFFFFFFFFFFFFFFF:016x}"
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT IS_FREE_LOCK(%s)", (name,)).scalar() == 1


@pytest.fixture(params=["postgres", "mariadb"])
def database(request: pytest.FixtureRequest) -> Iterator[tuple[Engine, Callable[[Engine], bool]]]:
    if request.param == "postgres":
        engine, free = control_engine(allow_embedded=False), _free_on_postgres
    else:
        engine, free = source_engine("shop_mysql"), _free_on_mysql
    yield engine, free
    engine.dispose()


def test_one_holder_at_a_time_and_free_again_after(database: tuple[Engine, Callable[[Engine], bool]]) -> None:
    engine, free = database
    assert free(engine)
    with publish_turn(engine, "s", "e"):
        assert not free(engine)
        with (
            pytest.raises(PublishTurnTimeoutError, match=r"s\.e: another publish task held"),
            publish_turn(engine, "s", "e", wait_seconds=0.3),
        ):
            pass
        with publish_turn(engine, "s", "other"):  # another entity's turn is its own
            pass
    assert free(engine)

    with pytest.raises(RuntimeError), publish_turn(engine, "s", "e"):
        raise RuntimeError("a check failed")
    assert free(engine)
