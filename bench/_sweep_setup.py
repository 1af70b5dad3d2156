"""The sweep benchmark's ledger and sandbox: real holds made fast, lost answers read back.

Setup is not what the benchmark measures, but it must neither die nor crawl when the gateway
loses an answer (``--setup-faults`` makes it lose some on purpose). A hold is two calls: create
the purchase (``skip_capture``), then send the card S2S (the sandbox answers ``hold``). Each
lost or failed answer is settled the way the product settles one, by reading back, never by a
blind resend that could make a second hold:

- create lost (timeout, dropped connection, 5xx after commit): the sandbox's inspection route is
  asked for a purchase with this hold's reference; found, it is used, else one is created again;
- card submission lost: the purchase is read back; ``hold`` is done, still unpaid and untouched
  is sent again; anything else (an error status) starts the hold over on a new purchase.

The ledger side is bulk inserts and four bulk updates, no ORM objects and no commit per hold.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Engine

from payflows.domain.cards import BrowserFingerprint, CardData
from payflows.domain.holds import DEFAULT_WINDOWS
from payflows.domain.states import Status
from payflows.gateway import (
    CardDeclinedError,
    PreciumError,
    Product,
    Purchase,
    PurchaseRequest,
    RequestRejected,
)
from payflows.ledger import Hold, HoldDecision, UnitOfWork
from payflows.payments import PaymentContext, ensure_customer

__all__ = ["SETUP_ROUTES", "Setup", "decide_mix", "filler", "setup_fault_rules"]

CARDS = ("4111111111111111", "5100000000000008", "6767700000000005")
BRANDS = ("visa", "mastercard", "maestro")
#: The routes setup calls: the faults of ``--setup-faults`` go on these.
SETUP_ROUTES = ("POST /api/v1/purchases/", "POST /p/*/")
_TRIES = 12


def setup_fault_rules(rate: float) -> list[dict[str, Any]]:
    """Answers lost after the gateway committed, dropped connections and 503s, ``rate`` each."""
    return [
        {"route": route, "kind": kind, "rate": rate}
        for route in SETUP_ROUTES
        for kind in ("lost_after_commit", "drop", "error_5xx")
    ]


class Setup:
    """Makes real sandbox holds; counts the lost answers it read back (printed by the bench)."""

    def __init__(self, ctx: PaymentContext, control_base: str, api_key: str) -> None:
        self.ctx = ctx
        self.control = httpx.AsyncClient(
            base_url=control_base, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )
        self.read_back = 0  # lost answers settled by reading back
        self.resent = 0  # requests sent again after a read-back showed nothing landed

    async def aclose(self) -> None:
        await self.control.aclose()

    async def holds(self, n: int, tag: str, concurrency: int = 64) -> list[str]:
        """``n`` real holds in the sandbox, recorded in the ledger as the sweep reads them."""
        customer = await ensure_customer(self.ctx, f"bench-{tag}", email=f"bench-{tag}@x.test")
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> tuple[str, str, datetime]:
            async with sem:
                pid = await self._hold(customer.precium_client_id, f"preauth:bench-{tag}-{i}", i)
                return pid, BRANDS[i % 3], datetime.now(UTC)

        made = await asyncio.gather(*(one(i) for i in range(n)))
        now = datetime.now(UTC)
        rows = [_hold_row(pid, brand, at, now, customer.id) for pid, brand, at in made]
        with UnitOfWork(self.ctx.engine) as uow:
            uow.session.execute(insert(Hold), rows)
            uow.commit()
        return [pid for pid, _, _ in made]

    async def _hold(self, client_id: str, reference: str, i: int) -> str:
        for _ in range(_TRIES):
            purchase = await self._create(client_id, reference)
            if await self._submit(purchase, i):
                return purchase.id
        raise RuntimeError(f"no hold for {reference} after {_TRIES} purchases")

    async def _create(self, client_id: str, reference: str) -> Purchase:
        request = PurchaseRequest(
            client_id=client_id,
            currency="ZAR",
            products=[Product(name="Room", price=10_000)],
            skip_capture=True,
            reference=reference,
            success_redirect=self.ctx.success_redirect,
            failure_redirect=self.ctx.failure_redirect,
        )
        for attempt in range(_TRIES):
            try:
                return await self.ctx.gateway.create_purchase(request)
            except RequestRejected:
                raise  # a bug in the bench, not a lost answer
            except PreciumError:
                self.read_back += 1
                found = await self._by_reference(reference)
                if found is not None:
                    return found
                self.resent += 1
                await asyncio.sleep(0.01 * (attempt + 1) * random.random())
        raise RuntimeError(f"purchase {reference} not created after {_TRIES} tries")

    async def _by_reference(self, reference: str) -> Purchase | None:
        """A created purchase of ours whose answer was lost, unused so far (else None)."""
        for attempt in range(_TRIES):
            try:
                answer = await self.control.get("purchases/", params={"reference": reference})
                answer.raise_for_status()
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.01 * (attempt + 1))
        else:
            raise RuntimeError("the sandbox's inspection route does not answer")
        usable = [p for p in answer.json()["results"] if p.get("status") == Status.CREATED]
        return Purchase.model_validate(usable[0]) if usable else None

    async def _submit(self, purchase: Purchase, i: int) -> bool:
        """Send the card; True once the purchase is a hold (read back when the answer is lost)."""
        assert purchase.direct_post_url, purchase
        gateway = self.ctx.gateway
        card = CardData(CARDS[i % 3], "12/35", "123", "Bench")
        for attempt in range(_TRIES):
            try:
                answer = await gateway.submit_card(
                    purchase.direct_post_url,
                    card,
                    remote_ip="127.0.0.1",
                    browser=BrowserFingerprint(),
                )
                if answer.purchase_status is Status.HOLD:
                    return True
                raise AssertionError(f"frictionless card answered {answer.purchase_status}")
            except CardDeclinedError:
                return False  # a fault the sandbox turned into an error status: a new purchase
            except PreciumError:
                self.read_back += 1
                status = await self._status(purchase.id)
                if status is Status.HOLD:
                    return True
                if status is not Status.CREATED:
                    return False  # neither held nor untouched: start over on a new purchase
                self.resent += 1
                await asyncio.sleep(0.01 * (attempt + 1) * random.random())
        return False

    async def _status(self, purchase_id: str) -> Status | None:
        for attempt in range(_TRIES):
            try:
                return (await self.ctx.gateway.get_purchase_state(purchase_id)).status
            except PreciumError:
                await asyncio.sleep(0.01 * (attempt + 1))
        return None


def _hold_row(
    pid: str, brand: str, at: datetime, now: datetime, customer_id: int | None
) -> dict[str, Any]:
    return {
        "purchase_id": pid,
        "customer_id": customer_id,
        "authorised_cents": 10_000,
        "captured_cents": 0,
        "currency": "ZAR",
        "brand": brand,
        "is_mit": False,
        "authorised_at": at,
        "expires_at": DEFAULT_WINDOWS.deadline(at, brand, is_mit=False),
        "decision": HoldDecision.NONE,
        "status": Status.HOLD,
        "status_at": at,
        "created_at": now,
        "updated_at": now,
        "extended": False,
    }


def filler(engine: Engine, n: int) -> None:
    """Holds that are nowhere near due (they never reach the gateway in this bench)."""
    now = datetime.now(UTC)
    far = now + timedelta(days=200)
    with UnitOfWork(engine) as uow:
        for start in range(0, n, 5000):
            rows = [
                _hold_row(f"filler-{i:07d}", "visa", now, now, None)
                | {"expires_at": far + timedelta(seconds=i)}
                for i in range(start, min(n, start + 5000))
            ]
            uow.session.execute(insert(Hold), rows)
        uow.commit()


def decide_mix(engine: Engine, pids: list[str]) -> None:
    """A third captured in full, a sixth in part, a sixth voided, a third undecided (due).

    Four bulk updates (one ``executemany`` each), not one statement per hold.
    """
    act_by = datetime.now(UTC) + timedelta(hours=12)  # undecided, already at its act-by time
    groups: dict[str, list[dict[str, Any]]] = {"full": [], "part": [], "void": [], "none": []}
    for i, pid in enumerate(pids):
        groups[("full", "full", "part", "void", "none", "none")[i % 6]].append({"p": pid})
    values: dict[str, dict[str, Any]] = {
        "full": {"decision": HoldDecision.CAPTURE, "decision_cents": 10_000},
        "part": {"decision": HoldDecision.CAPTURE, "decision_cents": 4_000},
        "void": {"decision": HoldDecision.VOID},
        "none": {"expires_at": act_by},
    }
    table = Hold.__table__  # type: ignore[attr-defined]
    by_pid = table.c.purchase_id == bindparam("p")
    with UnitOfWork(engine) as uow:
        for name, rows in groups.items():
            if rows:
                stmt = update(table).where(by_pid).values(**values[name])
                uow.session.execute(stmt, rows, execution_options={"synchronize_session": False})
        uow.commit()
