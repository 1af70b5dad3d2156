"""The billing run against an in-process sandbox and a fresh ledger (SQLite, or PostgreSQL)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from sqlmodel import select

from payflows.domain.cards import CardData
from payflows.gateway import PreciumClient
from payflows.ledger import (
    OneOffCharge,
    PaymentAttempt,
    Subscription,
    UnitOfWork,
    make_engine,
    upsert_one_off_charge,
    upsert_subscription,
)
from payflows.ledger.migrate import upgrade
from payflows.payments import PaymentContext, authorize_card, ensure_customer
from payflows.sandbox import SandboxConfig, create_app
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY

ORIGIN = "http://sandbox.test"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=2"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FIRST = datetime(2026, 1, 31, 6, 0, tzinfo=UTC)
FIRST_DAY = FIRST.date()


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_DSN):
            return True
    except psycopg.Error:
        return False


@dataclass
class World:
    ctx: PaymentContext
    http: httpx.AsyncClient
    tokens: dict[str, tuple[int, int]]  # card number -> (customer id, payment method id)

    async def faults(self, *rules: dict[str, Any]) -> None:
        response = await self.http.put("/_sandbox/faults/", json={"rules": list(rules)})
        assert response.status_code == 200, response.text

    async def paid_by_reference(self) -> Counter[str]:
        response = await self.http.get("/_sandbox/purchases/", params={"status": "paid"})
        return Counter(p["reference"] for p in response.json()["results"])

    async def purchases(self, reference: str) -> list[dict[str, Any]]:
        response = await self.http.get("/_sandbox/purchases/", params={"reference": reference})
        return response.json()["results"]

    async def advance(self, seconds: int) -> None:
        response = await self.http.post("/_sandbox/clock/advance/", json={"seconds": seconds})
        assert response.status_code == 200

    async def stored_card(self, number: str) -> tuple[int, int]:
        """A customer with a recurring token for ``number``, from a zero-amount validation."""
        if number not in self.tokens:
            ext = f"cust-{number[-4:]}-{len(self.tokens)}"
            customer = await ensure_customer(self.ctx, ext, email=f"{ext}@example.com")
            outcome = await authorize_card(
                self.ctx,
                f"zero:{ext}",
                customer,
                CardData(number, "12/35", "123", "Jo Bloggs"),
                amount_cents=0,
                currency="ZAR",
                product="Card validation",
                force_recurring=True,
            )
            assert outcome.succeeded and outcome.recurring_token, outcome

            def method_id(uow: UnitOfWork) -> int:
                from payflows.ledger import PaymentMethod

                m = uow.session.exec(
                    select(PaymentMethod).where(
                        PaymentMethod.recurring_token == outcome.recurring_token
                    )
                ).one()
                return m.id

            self.tokens[number] = (customer.id, await self.ctx.ledger(method_id))
        return self.tokens[number]

    async def subscribe(
        self,
        n: int,
        number: str = "4111111111111111",
        *,
        amount_cents: int = 9900,
        currency: str = "ZAR",
        first: datetime = FIRST,
        unit: str = "month",
        prefix: str = "s",
    ) -> list[int]:
        customer_id, method_id = await self.stored_card(number)

        def create(uow: UnitOfWork) -> list[int]:
            return [
                upsert_subscription(
                    uow,
                    f"{prefix}-{number[-4:]}-{i}",
                    customer_id=customer_id,
                    plan="basic",
                    amount_cents=amount_cents,
                    currency=currency,
                    interval_unit=unit,
                    next_billing_at=first,
                    payment_method_id=method_id,
                ).id
                for i in range(n)
            ]

        return await self.ctx.ledger(create)

    async def plan_one_offs(
        self,
        n: int,
        number: str = "4111111111111111",
        *,
        amount_cents: int = 25000,
        currency: str = "ZAR",
        charge_on: date = FIRST_DAY,
        prefix: str = "inv",
    ) -> list[str]:
        """``n`` planned one-off charges on the stored card for ``number``; their external ids."""
        customer_id, method_id = await self.stored_card(number)
        ids = [f"{prefix}-{number[-4:]}-{i}" for i in range(n)]

        def create(uow: UnitOfWork) -> None:
            for ext in ids:
                upsert_one_off_charge(
                    uow,
                    ext,
                    customer_id=customer_id,
                    payment_method_id=method_id,
                    amount_cents=amount_cents,
                    currency=currency,
                    description=f"Invoice {ext}",
                    charge_on=charge_on,
                )

        await self.ctx.ledger(create)
        return ids

    def one_off(self, external_id: str) -> OneOffCharge:
        with UnitOfWork(self.ctx.engine) as uow:
            return uow.session.exec(
                select(OneOffCharge).where(OneOffCharge.external_id == external_id)
            ).one()

    def subscription(self, sub_id: int) -> Subscription:
        with UnitOfWork(self.ctx.engine) as uow:
            return uow.session.get(Subscription, sub_id)

    def attempts(self) -> list[PaymentAttempt]:
        with UnitOfWork(self.ctx.engine) as uow:
            return list(uow.session.exec(select(PaymentAttempt)).all())


async def _world(url: str) -> AsyncIterator[World]:
    app = create_app(SandboxConfig(seed=11))
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
            max_connections=64,
        )
        http = httpx.AsyncClient(
            transport=transport,
            base_url=ORIGIN,
            headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"},
        )
        ctx = PaymentContext(gateway=gateway, engine=engine)
        try:
            yield World(ctx=ctx, http=http, tokens={})
        finally:
            await http.aclose()
            await gateway.aclose()
            engine.dispose()


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[World]:
    async for w in _world(f"sqlite:///{tmp_path}/ledger.db"):
        yield w


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def any_world(request, tmp_path) -> AsyncIterator[World]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/ledger.db"
        async for w in _world(url):
            yield w
        return
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    schema = f"payflows_billing_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        async for w in _world(f"{PG_URL}?options=-csearch_path%3D{schema}"):
            yield w
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# The flow test reuses the flow suite's session Prefect server, loopback sandbox and ledger.
from tests.flows.conftest import (  # noqa: E402, F401
    flow_env,
    ledger,
    migrated_ledger,
    sandbox,
    sandbox_url,
)
