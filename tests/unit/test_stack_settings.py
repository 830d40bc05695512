"""The local stack's settings from the environment: ports, and the offset that lets a second stack run beside the
first (the test runner's lanes)."""

from __future__ import annotations

import pytest

from stack.settings import DEFAULT_PORTS, Settings


def test_an_offset_moves_every_default_port_and_a_named_port_still_wins() -> None:
    settings = Settings.from_env({"STACK_PORT_OFFSET": "1000", "STACK_KAFKA_PORT": "29500"})
    assert settings.port("postgres") == DEFAULT_PORTS["postgres"] + 1000
    assert settings.port("smtp-sink-smtp") == DEFAULT_PORTS["smtp-sink-smtp"] + 1000
    assert settings.port("kafka") == 29500
    moved = set(Settings.from_env({"STACK_PORT_OFFSET": "1000"}).ports.values())
    assert not moved & set(Settings.from_env({}).ports.values())  # two stacks share no port


@pytest.mark.parametrize("offset", ["-5", "abc", "4000"])
def test_an_offset_that_is_not_a_number_or_leaves_the_range_is_refused(offset: str) -> None:
    with pytest.raises(ValueError, match=f"STACK_PORT_OFFSET={offset!r}"):
        Settings.from_env({"STACK_PORT_OFFSET": offset})
