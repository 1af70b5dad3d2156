"""A pipeline's ``concurrency`` reaches the gateway's connection pools.

With pools of a fixed 16 connections, a billing run asked for 32 or 64 charges in flight queued
the rest inside httpcore: the rate capped at 16 / latency and ~40 % more CPU per charge than the
same ``bill_due`` given its own pools (``bench/scale_prefect.py`` against ``bench/scale.py``).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import flows.billing
import flows.sweep
from payflows.settings import Settings
from tasks.runtime import DEFAULT_CONNECTIONS, payment_context


def _connections(ctx: Any) -> int:
    return sum(pool._transport._pool._max_connections for pool in ctx.gateway._pools)


@pytest.mark.parametrize("connections", [1, 16, 40, 64])
async def test_the_context_keeps_as_many_connections_as_asked(
    connections: int, tmp_path: Path
) -> None:
    settings = Settings(PAYFLOWS_DATABASE_URL=f"sqlite:///{tmp_path}/ledger.db")
    async with payment_context(settings, connections=connections) as ctx:
        assert _connections(ctx) == connections
        assert all(p._transport._pool._max_connections <= 8 for p in ctx.gateway._pools)
    async with payment_context(settings) as ctx:
        assert _connections(ctx) == DEFAULT_CONNECTIONS


async def test_the_default_is_the_gateway_clients_own(tmp_path: Path) -> None:
    """One default, owned by the core: a client from settings and a payment context keep the
    same number of connections, whatever it becomes."""
    from payflows.gateway import PreciumClient

    settings = Settings(PAYFLOWS_DATABASE_URL=f"sqlite:///{tmp_path}/ledger.db")
    assert DEFAULT_CONNECTIONS == PreciumClient.DEFAULT_CONNECTIONS
    async with PreciumClient.from_settings(settings) as gateway:
        assert sum(p._transport._pool._max_connections for p in gateway._pools) == (
            PreciumClient.DEFAULT_CONNECTIONS
        )


class _Opened(Exception):
    pass


@pytest.mark.parametrize(
    ("module", "flow", "kwargs"),
    [
        (flows.billing, flows.billing.subscription_billing, {"concurrency": 48}),
        (flows.sweep, flows.sweep.preauth_sweep, {"concurrency": 48}),
    ],
)
async def test_a_pipeline_opens_its_context_with_its_concurrency(
    module: Any, flow: Any, kwargs: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[dict[str, Any]] = []

    @asynccontextmanager
    async def recording(*args: Any, **options: Any) -> Any:
        asked.append(options)
        raise _Opened
        yield  # pragma: no cover

    monkeypatch.setattr(module, "payment_context", recording)
    with pytest.raises(_Opened):
        await flow.fn(**kwargs)
    assert asked == [{"connections": 48}]
