from __future__ import annotations

import pytest

from payflows.sandbox import SandboxClock


def test_now_is_the_time_source_plus_the_offset() -> None:
    clock = SandboxClock(10.0, time_source=lambda: 1_000.0)
    assert clock.now() == 1_010.0
    clock.advance(90)
    assert clock.offset == 100.0
    assert clock.now() == 1_100.0


def test_the_clock_never_goes_back() -> None:
    clock = SandboxClock(time_source=lambda: 0.0)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        SandboxClock(-5)
