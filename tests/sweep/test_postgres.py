"""The sweep on PostgreSQL: two sweeps at once under faults, each hold acted on once."""

from __future__ import annotations

import asyncio

import pytest

from payflows.domain.states import Status

from .test_sweep_run import gateway_actions, sweep

pytestmark = pytest.mark.postgres


async def test_two_sweeps_at_once_under_faults_on_postgres(pg_world):
    world = pg_world
    pids = [await world.hold(("visa_cit", "mastercard", "amex")[i % 3]) for i in range(18)]
    for i, pid in enumerate(pids):
        world.decide(pid, "void" if i % 2 else "capture", 2000 if i % 4 == 0 else None)
    await world.faults(
        {"route": "POST /api/v1/purchases/*/capture/", "kind": "lost_after_commit", "rate": 0.3},
        {"route": "POST /api/v1/purchases/*/release/", "kind": "error_5xx", "rate": 0.3},
    )
    await asyncio.gather(
        sweep(world, "pg-a", concurrency=4, batch_size=4),
        sweep(world, "pg-b", concurrency=4, batch_size=4),
    )
    await world.faults()
    final = await sweep(world)
    assert final.unknown == 0 and final.failed == 0
    rows = world.holds()
    for i, pid in enumerate(pids):
        assert sum((await gateway_actions(world, pid)).values()) == 1
        assert rows[pid].status is (Status.RELEASED if i % 2 else Status.PAID)
        assert rows[pid].claimed_by is None
