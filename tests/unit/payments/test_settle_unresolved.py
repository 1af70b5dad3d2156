"""Single payments left in flight by a killed process are settled by read-back, not re-sent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from payflows.ledger import AttemptState, PaymentAttempt, UnitOfWork, get_attempt
from payflows.ledger.models import utcnow
from payflows.payments import charge_stored_card, pay_with_card, settle_unresolved

from .conftest import World
from .test_payments import _tokenised

CHARGE = "POST /api/v1/purchases/*/charge/"
READ = "GET /api/v1/purchases/*/"


async def _left_in_flight(world: World, key: str) -> None:
    """A charge that landed, its answer and every read-back lost: what a killed run leaves."""
    cust, method = await _tokenised(world)
    await world.faults(
        {"route": CHARGE, "kind": "lost_after_commit", "count": 1},
        {"route": READ, "kind": "error_5xx", "count": 1000},
    )
    first = await charge_stored_card(
        world.ctx, key, cust, method, amount_cents=100, currency="ZAR", product="x"
    )
    assert first.state in {AttemptState.UNKNOWN, AttemptState.SUBMITTED}


def _age(world: World, key: str, seconds: int = 120) -> None:
    with UnitOfWork(world.ctx.engine) as uow:
        uow.session.execute(
            update(PaymentAttempt)
            .where(PaymentAttempt.business_key == key)
            .values(updated_at=utcnow() - timedelta(seconds=seconds))
        )
        uow.commit()


def _state(world: World, key: str) -> AttemptState:
    with UnitOfWork(world.ctx.engine) as uow:
        return AttemptState(get_attempt(uow, business_key=key).state)


async def test_an_attempt_left_in_flight_is_settled_by_read_back(world: World):
    await _left_in_flight(world, "mit:7:2026-02")
    await world.faults()
    # Too recent: probably still in its own process's hands.
    fresh = await settle_unresolved(world.ctx)
    assert fresh.examined == 0 and fresh.complete
    _age(world, "mit:7:2026-02")
    summary = await settle_unresolved(world.ctx)
    assert summary.examined == 1 and summary.settled == {"succeeded": 1}, summary
    assert summary.complete and summary.problem() is None
    assert _state(world, "mit:7:2026-02") is AttemptState.SUCCEEDED
    paid = await world.sandbox_purchases(reference="mit:7:2026-02", status="paid")
    assert len(paid) == 1  # read back, never charged again


async def test_still_unknown_is_named_with_its_purchase_and_billing_keys_are_left_alone(
    world: World,
):
    await _left_in_flight(world, "mit:8:2026-02")
    await _left_in_flight(world, "sub:8:2026-02")  # billing's own: its next run reads it back
    _age(world, "mit:8:2026-02")
    _age(world, "sub:8:2026-02")
    summary = await settle_unresolved(world.ctx)  # reads still fail
    assert summary.examined == 1 and not summary.complete
    [(key, pid)] = summary.unknown
    assert key == "mit:8:2026-02" and pid
    assert "1 still unknown" in (summary.problem() or "")
    assert _state(world, "sub:8:2026-02") in {AttemptState.UNKNOWN, AttemptState.SUBMITTED}


async def test_a_payment_waiting_for_the_shoppers_3ds_is_not_unknown(world: World):
    from payflows.domain.cards import BrowserFingerprint

    from .test_payments import card, customer

    cust = await customer(world, "cust-3ds")
    outcome = await pay_with_card(
        world.ctx,
        "cit:o-waiting",
        cust,
        card("4000000000000002"),
        amount_cents=29900,
        currency="ZAR",
        product="Premium",
        browser=BrowserFingerprint(),
    )
    assert outcome.three_ds is not None
    _age(world, "cit:o-waiting")
    summary = await settle_unresolved(world.ctx)
    assert summary.examined == 1 and summary.awaiting_3ds == 1 and summary.complete, summary
    assert _state(world, "cit:o-waiting") is AttemptState.SUBMITTED
