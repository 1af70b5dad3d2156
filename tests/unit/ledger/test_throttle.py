"""The checkout's failure counts in the ledger (payflows.ledger.throttle), SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from payflows.ledger import UnitOfWork
from payflows.ledger.throttle import (
    blocked_until,
    client_key,
    count_failures,
    prune_failures,
    record_failure,
)

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def fail(engine: Engine, client: str, *minutes: float) -> None:
    with UnitOfWork(engine) as uow:
        for m in minutes:
            record_failure(uow, client, T0 + timedelta(minutes=m))
        uow.commit()


def test_failures_are_counted_per_client_inside_the_window_only(engine: Engine) -> None:
    fail(engine, "203.0.113.7", 0, 1, 2, 20)
    fail(engine, "2001:db8::1", 19)
    with UnitOfWork(engine) as uow:
        # The window (T0+6, T0+21]: the three early failures have left it.
        assert count_failures(uow, "203.0.113.7", T0 + timedelta(minutes=6)) == 1
        assert count_failures(uow, "203.0.113.7", T0 - timedelta(minutes=1)) == 4
        assert count_failures(uow, "2001:db8::1", T0) == 1
        assert count_failures(uow, "198.51.100.1", T0) == 0
        # The window's start is excluded: a failure exactly at it has left.
        assert count_failures(uow, "203.0.113.7", T0 + timedelta(minutes=2)) == 1


def test_blocked_until_is_the_failure_that_keeps_the_client_at_its_limit(engine: Engine) -> None:
    fail(engine, "203.0.113.7", 0, 1, 2, 3, 4, 5)
    now = T0 + timedelta(minutes=6)
    with UnitOfWork(engine) as uow:
        # Six failures, limit 5: blocked until the 5th newest (T0+1) leaves the window.
        assert blocked_until(uow, "203.0.113.7", since=now - WINDOW, limit=5) == T0 + timedelta(
            minutes=1
        )
        assert blocked_until(uow, "203.0.113.7", since=now - WINDOW, limit=7) is None
        later = T0 + timedelta(minutes=17)  # T0+0, +1 and +2 have left: three remain
        assert blocked_until(uow, "203.0.113.7", since=later - WINDOW, limit=5) is None
        assert blocked_until(uow, "203.0.113.7", since=later - WINDOW, limit=3) == T0 + timedelta(
            minutes=3
        )
        assert blocked_until(uow, "198.51.100.1", since=now - WINDOW, limit=1) is None
        with pytest.raises(ValueError):
            blocked_until(uow, "203.0.113.7", since=now, limit=0)


def test_pruning_deletes_old_failures_of_every_client_and_keeps_the_rest(engine: Engine) -> None:
    fail(engine, "a", 0, 10, 30)
    fail(engine, "b", 5, 31)
    with UnitOfWork(engine) as uow:
        assert prune_failures(uow, T0 + timedelta(minutes=10)) == 3
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert count_failures(uow, "a", T0 - WINDOW) == 1
        assert count_failures(uow, "b", T0 - WINDOW) == 1
        assert prune_failures(uow, T0) == 0


def test_a_long_client_key_is_stored_as_its_hash_and_still_counted(engine: Engine) -> None:
    long = "proxy-chain:" + "x" * 200
    assert len(client_key(long)) == 64 and client_key(long) != long
    assert client_key("203.0.113.7") == "203.0.113.7"
    fail(engine, long, 1, 2)
    with UnitOfWork(engine) as uow:
        assert count_failures(uow, long, T0) == 2
    with pytest.raises(ValueError):
        client_key("")


def test_time_is_an_aware_parameter(engine: Engine) -> None:
    with UnitOfWork(engine) as uow, pytest.raises(ValueError):
        record_failure(uow, "a", datetime(2026, 12, 3, 8, 0))  # naive: refused, not guessed
