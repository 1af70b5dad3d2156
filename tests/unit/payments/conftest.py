"""The payments service against an in-process sandbox and a fresh SQLite ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from payflows.gateway import PreciumClient
from payflows.ledger import make_engine
from payflows.ledger.migrate import upgrade
from payflows.payments import PaymentContext
from payflows.sandbox import SandboxConfig, create_app
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY

ORIGIN = "http://sandbox.test"


@dataclass
class World:
    ctx: PaymentContext
    http: httpx.AsyncClient  # raw access for /_sandbox/ and the shopper's browser

    async def faults(self, *rules: dict[str, Any]) -> None:
        response = await self.http.put("/_sandbox/faults/", json={"rules": list(rules)})
        assert response.status_code == 200, response.text

    async def sandbox_purchases(self, **params: str) -> list[dict[str, Any]]:
        response = await self.http.get("/_sandbox/purchases/", params=params)
        return response.json()["results"]

    async def advance(self, seconds: int) -> None:
        response = await self.http.post("/_sandbox/clock/advance/", json={"seconds": seconds})
        assert response.status_code == 200

    async def sandbox_now(self) -> datetime:
        response = await self.http.get("/_sandbox/clock/")
        return datetime.fromtimestamp(response.json()["now"], UTC)


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[World]:
    app = create_app(SandboxConfig(seed=7))
    url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(url)
    engine = make_engine(url)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        gateway = PreciumClient(
            f"{ORIGIN}/api/v1/",
            SANDBOX_API_KEY,
            SANDBOX_S2S_API_KEY,
            SANDBOX_BRAND_ID,
            transport=transport,
        )
        http = httpx.AsyncClient(
            transport=transport,
            base_url=ORIGIN,
            headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"},
        )
        ctx = PaymentContext(gateway=gateway, engine=engine, term_url=f"{ORIGIN}/merchant/3ds")
        try:
            yield World(ctx=ctx, http=http)
        finally:
            await http.aclose()
            await gateway.aclose()
            engine.dispose()
