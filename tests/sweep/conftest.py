"""The sweep against a sandbox of its own on loopback (its clock moves) and a fresh ledger."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlmodel import select

from payflows.domain.cards import BrowserFingerprint, CardData
from payflows.gateway import CardFlags, PreciumClient, Product, PurchaseRequest
from payflows.ledger import AttemptKind, Hold, HoldAction, UnitOfWork, make_engine
from payflows.ledger.migrate import upgrade
from payflows.payments import PaymentContext, authorize_card, ensure_customer, open_purchase
from payflows.payments import cards as payment_cards
from payflows.sandbox import SandboxConfig, running_sandbox
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY
from payflows.sweep import decide, set_policy

#: Network -> (test card, merchant-initiated).
NETWORKS: dict[str, tuple[str, bool]] = {
    "visa_cit": ("4111111111111111", False),
    "visa_mit": ("4111111111111111", True),
    "mastercard": ("5100000000000008", False),
    "maestro": ("6767700000000005", False),
    "amex": ("378282246310005", False),
}
#: The sandbox's own expiry per network, in days (payflows/sandbox/engine.py _hold_window).
SANDBOX_DAYS = {"visa_cit": 7, "visa_mit": 5, "mastercard": 30, "maestro": 7, "amex": 7}
DAY = 86_400


@dataclass
class World:
    ctx: PaymentContext
    http: httpx.AsyncClient
    base_url: str
    db_url: str
    customers: dict[str, Any] = field(default_factory=dict)

    async def now(self) -> datetime:
        response = await self.http.get("/_sandbox/clock/")
        return datetime.fromisoformat(response.json()["iso"].replace("Z", "+00:00"))

    async def advance(self, seconds: float) -> None:
        response = await self.http.post("/_sandbox/clock/advance/", json={"seconds": seconds})
        assert response.status_code == 200, response.text

    async def faults(self, *rules: dict[str, Any]) -> None:
        response = await self.http.put("/_sandbox/faults/", json={"rules": list(rules)})
        assert response.status_code == 200, response.text

    async def purchase(self, purchase_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/purchases/{purchase_id}/")
        assert response.status_code == 200, response.text
        return response.json()

    async def inspect(self, reference: str) -> dict[str, Any]:
        response = await self.http.get("/_sandbox/purchases/", params={"reference": reference})
        [found] = response.json()["results"]
        return found

    async def hold(self, network: str, amount_cents: int = 10_000, key: str | None = None) -> str:
        """A hold on ``network``; returns its purchase id."""
        number, mit = NETWORKS[network]
        if network not in self.customers:
            ext = f"guest-{network}-{uuid.uuid4().hex[:6]}"
            self.customers[network] = await ensure_customer(
                self.ctx, ext, email=f"{ext}@example.test"
            )
        key = key or f"preauth:{network}:{uuid.uuid4().hex[:8]}"
        flags = CardFlags(is_recurring=True, original_amount_cents=amount_cents) if mit else None
        if network == "amex":
            return await self._amex_hold(key, amount_cents)
        outcome = await authorize_card(
            self.ctx,
            key,
            self.customers[network],
            CardData(number, "12/35", "000" if mit else "123", "Jo Bloggs"),
            amount_cents=amount_cents,
            currency="ZAR",
            product="Room",
            card_flags=flags,
            browser=BrowserFingerprint(),
        )
        assert outcome.succeeded, outcome
        assert outcome.purchase_id is not None
        return outcome.purchase_id

    async def _amex_hold(self, key: str, amount_cents: int) -> str:
        # payflows' own purchases whitelist visa, mastercard and maestro; a merchant who takes
        # Amex creates the purchase with Amex allowed. Same protocol: intent, purchase, submit.
        customer = self.customers["amex"]
        request = PurchaseRequest(
            client_id=customer.precium_client_id,
            currency="ZAR",
            products=[Product(name="Room", price=amount_cents)],
            skip_capture=True,
            payment_method_whitelist=["visa", "mastercard", "maestro", "amex"],
            success_redirect=self.ctx.success_redirect,
            failure_redirect=self.ctx.failure_redirect,
        )
        attempt = await open_purchase(
            self.ctx, key, AttemptKind.PREAUTH, request, customer_id=customer.id
        )
        outcome = await payment_cards._submit(
            self.ctx,
            attempt,
            CardData(NETWORKS["amex"][0], "12/35", "1234", "Jo Bloggs"),
            remote_ip="127.0.0.1",
            remember_card=False,
            browser=BrowserFingerprint(),
        )
        assert outcome.succeeded and outcome.purchase_id, outcome
        return outcome.purchase_id

    def holds(self) -> dict[str, Hold]:
        with UnitOfWork(self.ctx.engine) as uow:
            return {h.purchase_id: h for h in uow.session.exec(select(Hold))}

    def actions(self, purchase_id: str | None = None) -> list[HoldAction]:
        with UnitOfWork(self.ctx.engine) as uow:
            stmt = select(HoldAction).order_by(HoldAction.id)
            if purchase_id is not None:
                stmt = stmt.where(HoldAction.purchase_id == purchase_id)
            return list(uow.session.exec(stmt))

    def decide(self, purchase_id: str, decision: str, amount_cents: int | None = None) -> None:
        with UnitOfWork(self.ctx.engine) as uow:
            decide(uow, purchase_id, decision, amount_cents)
            uow.commit()

    def policy(self, purchase_id: str, policy: str) -> None:
        with UnitOfWork(self.ctx.engine) as uow:
            set_policy(uow, purchase_id, policy)
            uow.commit()


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[World]:
    async for w in _world(f"sqlite:///{tmp_path}/ledger.db"):
        yield w


@pytest.fixture
async def pg_world() -> AsyncIterator[World]:
    """The same on PostgreSQL at 127.0.0.1:5432, in a schema of its own (skipped without it)."""
    import psycopg

    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=2"
    try:
        psycopg.connect(dsn).close()
    except psycopg.Error:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    schema = f"payflows_sweep_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
        async for w in _world(url):
            yield w
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _world(db_url: str) -> AsyncIterator[World]:
    upgrade(db_url)
    engine = make_engine(db_url)
    with running_sandbox(SandboxConfig(seed=5)) as base_url:
        origin = base_url.removesuffix("/api/v1/")
        async with (
            PreciumClient(
                base_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID, timeout=5
            ) as gateway,
            httpx.AsyncClient(
                base_url=origin, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}
            ) as http,
        ):
            yield World(
                ctx=PaymentContext(gateway=gateway, engine=engine),
                http=http,
                base_url=base_url,
                db_url=db_url,
            )
    engine.dispose()


@pytest.fixture
def flow_world(world: World, prefect_api, monkeypatch) -> World:
    """The flows read their settings from the environment: point them at this world."""
    from tasks.runtime import dispose_engines

    monkeypatch.setenv("PRECIUM_BASE_URL", world.base_url)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", world.db_url)
    monkeypatch.setenv("PRECIUM_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("PAYFLOWS_PUBLIC_URL", "http://merchant.test")
    yield world
    dispose_engines()
