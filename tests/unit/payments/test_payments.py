"""The exactly-once protocol of payflows.payments, scenario by scenario."""

from __future__ import annotations

import pytest
from sqlmodel import select

from payflows.domain.cards import BrowserFingerprint, CardData
from payflows.domain.states import Status
from payflows.ledger import (
    AttemptState,
    Hold,
    PaymentAttempt,
    PaymentMethod,
    UnitOfWork,
    get_challenge,
)
from payflows.payments import (
    OperationRejected,
    authorize_card,
    cancel_purchase,
    cancel_refund,
    capture_hold,
    charge_stored_card,
    complete_three_ds,
    ensure_customer,
    pay_with_card,
    refund_purchase,
    settle_by_read_back,
    void_hold,
)
from payflows.sandbox.testing import complete_challenge

from .conftest import World


def card(number: str = "4111111111111111") -> CardData:
    return CardData(number, "12/35", "123", "Jo Bloggs")


async def customer(world: World, ext: str = "cust-1"):
    return await ensure_customer(world.ctx, ext, email=f"{ext}@example.com", full_name="Jo Bloggs")


def attempts(world: World) -> list[PaymentAttempt]:
    with UnitOfWork(world.ctx.engine) as uow:
        return list(uow.session.exec(select(PaymentAttempt)).all())


def methods(world: World) -> list[PaymentMethod]:
    with UnitOfWork(world.ctx.engine) as uow:
        return list(uow.session.exec(select(PaymentMethod)).all())


async def test_customer_gets_one_gateway_client(world: World):
    first = await customer(world)
    again = await customer(world)
    assert first.precium_client_id and first.precium_client_id == again.precium_client_id


async def test_zero_auth_stores_a_token_and_no_card_data(world: World):
    cust = await customer(world)
    outcome = await authorize_card(
        world.ctx,
        "zero:cust-1",
        cust,
        card(),
        amount_cents=0,
        currency="ZAR",
        product="Card validation",
        force_recurring=True,
    )
    assert outcome.succeeded and outcome.purchase_status is Status.PREAUTHORIZED
    assert outcome.recurring_token == outcome.purchase_id
    [method] = methods(world)
    assert method.masked_pan == "411111******1111" and method.brand == "visa"
    assert method.expiry_year == 2035
    assert "4111111111111111" not in outcome.model_dump_json()


async def test_cit_with_3ds_challenge_completes_at_the_term_url(world: World):
    cust = await customer(world)
    outcome = await pay_with_card(
        world.ctx,
        "cit:o-1",
        cust,
        card("4000000000000002"),
        amount_cents=29900,
        currency="ZAR",
        product="Premium",
        force_recurring=True,
        browser=BrowserFingerprint(),
    )
    assert outcome.three_ds is not None and outcome.state is AttemptState.SUBMITTED
    pares = await complete_challenge(
        world.http,
        outcome.three_ds.acs_url,
        outcome.three_ds.md,
        outcome.three_ds.pareq,
        "http://merchant.test/3ds",
    )
    done = await complete_three_ds(world.ctx, outcome.three_ds.md, pares)
    assert done.succeeded and done.purchase_status is Status.PAID
    assert done.recurring_token == done.purchase_id
    again = await complete_three_ds(world.ctx, outcome.three_ds.md, pares)
    assert again.succeeded
    assert len(await world.sandbox_purchases(reference="cit:o-1")) == 1


async def test_failed_3ds_is_a_decline(world: World):
    cust = await customer(world)
    outcome = await pay_with_card(
        world.ctx,
        "cit:o-2",
        cust,
        card("4000000000000002"),
        amount_cents=500,
        currency="ZAR",
        product="x",
        browser=BrowserFingerprint(),
    )
    assert outcome.three_ds is not None
    pares = await complete_challenge(
        world.http,
        outcome.three_ds.acs_url,
        outcome.three_ds.md,
        outcome.three_ds.pareq,
        "http://merchant.test/3ds",
        approve=False,
    )
    done = await complete_three_ds(world.ctx, outcome.three_ds.md, pares)
    assert done.state is AttemptState.DECLINED
    assert done.decline_code == "3ds_authentication_failed"


async def test_decline_is_recorded_with_its_code(world: World):
    cust = await customer(world)
    outcome = await pay_with_card(
        world.ctx,
        "cit:o-3",
        cust,
        card("4000000000000028"),
        amount_cents=500,
        currency="ZAR",
        product="x",
        browser=BrowserFingerprint(),
    )
    assert outcome.state is AttemptState.DECLINED
    assert outcome.decline_code == "insufficient_funds" and outcome.decline_soft


async def test_same_business_key_never_pays_twice(world: World):
    cust = await customer(world)
    for _ in range(3):
        outcome = await pay_with_card(
            world.ctx,
            "cit:o-4",
            cust,
            card(),
            amount_cents=1000,
            currency="ZAR",
            product="x",
            browser=BrowserFingerprint(),
        )
        assert outcome.succeeded
    assert len(await world.sandbox_purchases(reference="cit:o-4")) == 1


async def _tokenised(world: World, number: str = "4111111111111111"):
    cust = await customer(world)
    await authorize_card(
        world.ctx,
        f"zero:{number[-4:]}",
        cust,
        card(number),
        amount_cents=0,
        currency="ZAR",
        product="Card validation",
        force_recurring=True,
    )
    [method] = [m for m in methods(world) if m.masked_pan.endswith(number[-4:])]
    return cust, method


async def test_mit_charge_lost_after_commit_is_settled_by_read_back(world: World):
    cust, method = await _tokenised(world)
    await world.faults(
        {"route": "POST /api/v1/purchases/*/charge/", "kind": "lost_after_commit", "count": 1}
    )
    outcome = await charge_stored_card(
        world.ctx,
        "sub:1:2026-02",
        cust,
        method,
        amount_cents=29900,
        currency="ZAR",
        product="Monthly",
    )
    assert outcome.succeeded and outcome.purchase_status is Status.PAID
    again = await charge_stored_card(
        world.ctx,
        "sub:1:2026-02",
        cust,
        method,
        amount_cents=29900,
        currency="ZAR",
        product="Monthly",
    )
    assert again.succeeded
    paid = await world.sandbox_purchases(reference="sub:1:2026-02")
    assert [p["status"] for p in paid] == ["paid"]


async def test_mit_charge_dropped_before_processing_is_charged_again_on_the_same_purchase(
    world: World,
):
    cust, method = await _tokenised(world)
    await world.faults({"route": "POST /api/v1/purchases/*/charge/", "kind": "drop", "count": 1})
    first = await charge_stored_card(
        world.ctx, "sub:2:2026-02", cust, method, amount_cents=100, currency="ZAR", product="x"
    )
    # The read-back showed the purchase never got the charge: charged again, on that purchase.
    assert first.succeeded
    purchases = await world.sandbox_purchases(reference="sub:2:2026-02")
    assert len(purchases) == 1 and purchases[0]["status"] == "paid"
    again = await charge_stored_card(
        world.ctx, "sub:2:2026-02", cust, method, amount_cents=100, currency="ZAR", product="x"
    )
    assert again.succeeded and again.purchase_id == first.purchase_id


async def test_mit_charge_lost_twice_stays_unknown_for_the_next_run(world: World):
    cust, method = await _tokenised(world)
    await world.faults({"route": "POST /api/v1/purchases/*/charge/", "kind": "drop", "count": 2})
    first = await charge_stored_card(
        world.ctx, "sub:9:2026-02", cust, method, amount_cents=100, currency="ZAR", product="x"
    )
    # One re-send per call: the second drop leaves the attempt unresolved, never declined.
    assert first.state in {AttemptState.UNKNOWN, AttemptState.SUBMITTED}
    second = await charge_stored_card(
        world.ctx, "sub:9:2026-02", cust, method, amount_cents=100, currency="ZAR", product="x"
    )
    assert second.succeeded
    assert len(await world.sandbox_purchases(reference="sub:9:2026-02", status="paid")) == 1


async def test_mit_soft_decline(world: World):
    cust, method = await _tokenised(world, "4000000000000085")
    outcome = await charge_stored_card(
        world.ctx, "sub:3:2026-02", cust, method, amount_cents=100, currency="ZAR", product="x"
    )
    assert outcome.state is AttemptState.DECLINED and outcome.decline_code == "insufficient_funds"


async def _hold(world: World, key: str, amount: int = 450000):
    cust = await customer(world)
    outcome = await authorize_card(
        world.ctx,
        key,
        cust,
        card(),
        amount_cents=amount,
        currency="ZAR",
        product="Hotel",
        browser=BrowserFingerprint(),
    )
    assert outcome.succeeded and outcome.purchase_status is Status.HOLD
    return outcome


async def test_preauth_records_a_hold_with_its_deadline(world: World):
    outcome = await _hold(world, "preauth:b-1")
    with UnitOfWork(world.ctx.engine) as uow:
        hold = uow.session.exec(select(Hold)).one()
    assert hold.purchase_id == outcome.purchase_id and hold.authorised_cents == 450000
    assert (hold.expires_at - hold.authorised_at).days == 7


async def test_partial_capture_then_capture_again_is_idempotent(world: World):
    outcome = await _hold(world, "preauth:b-2")
    done = await capture_hold(world.ctx, outcome.purchase_id, 400000)
    assert done.succeeded and done.purchase_status is Status.PAID
    again = await capture_hold(world.ctx, outcome.purchase_id, 400000)
    assert again.succeeded
    [p] = await world.sandbox_purchases(reference="preauth:b-2")
    assert p["refundable_amount"] == 400000


async def test_capture_above_the_hold_is_refused_and_ledger_unchanged(world: World):
    outcome = await _hold(world, "preauth:b-3", amount=1000)
    before = len(attempts(world))
    with pytest.raises(OperationRejected, match="authorised"):
        await capture_hold(world.ctx, outcome.purchase_id, 1001)
    assert len(attempts(world)) == before


async def test_capture_lost_after_commit_is_settled_by_read_back(world: World):
    outcome = await _hold(world, "preauth:b-4")
    await world.faults(
        {"route": "POST /api/v1/purchases/*/capture/", "kind": "lost_after_commit", "count": 1}
    )
    done = await capture_hold(world.ctx, outcome.purchase_id)
    assert done.succeeded


async def test_void_releases_the_hold(world: World):
    outcome = await _hold(world, "preauth:b-5")
    done = await void_hold(world.ctx, outcome.purchase_id)
    assert done.succeeded and done.purchase_status is Status.RELEASED


async def test_cancel_before_settlement_and_refused_after(world: World):
    cust = await customer(world)
    paid = await pay_with_card(
        world.ctx,
        "cit:o-5",
        cust,
        card(),
        amount_cents=1000,
        currency="ZAR",
        product="x",
        browser=BrowserFingerprint(),
    )
    done = await cancel_purchase(world.ctx, paid.purchase_id)
    assert done.succeeded and done.purchase_status is Status.CANCELLED
    settled = await pay_with_card(
        world.ctx,
        "cit:o-6",
        cust,
        card(),
        amount_cents=1000,
        currency="ZAR",
        product="x",
        browser=BrowserFingerprint(),
    )
    await world.advance(3 * 86400)
    with pytest.raises(OperationRejected, match="refund it instead"):
        await cancel_purchase(world.ctx, settled.purchase_id)


async def test_partial_refund_lost_answer_is_not_refunded_twice(world: World):
    cust = await customer(world)
    paid = await pay_with_card(
        world.ctx,
        "cit:o-7",
        cust,
        card(),
        amount_cents=30000,
        currency="ZAR",
        product="x",
        browser=BrowserFingerprint(),
    )
    await world.faults(
        {"route": "POST /api/v1/purchases/*/refund/", "kind": "lost_after_commit", "count": 1}
    )
    first = await refund_purchase(world.ctx, paid.purchase_id, 15000, refund_ref="r-1")
    assert first.succeeded
    again = await refund_purchase(world.ctx, paid.purchase_id, 15000, refund_ref="r-1")
    assert again.succeeded
    [p] = await world.sandbox_purchases(reference="cit:o-7")
    assert p["refundable_amount"] == 15000 and len(p["refunds"]) == 1


async def test_refund_above_refundable_is_refused(world: World):
    cust = await customer(world)
    paid = await pay_with_card(
        world.ctx,
        "cit:o-8",
        cust,
        card(),
        amount_cents=1000,
        currency="ZAR",
        product="x",
        browser=BrowserFingerprint(),
    )
    with pytest.raises(OperationRejected, match="refundable"):
        await refund_purchase(world.ctx, paid.purchase_id, 1001, refund_ref="r-2")


async def test_refund_then_cancel_the_refund(world: World):
    cust = await customer(world)
    paid = await pay_with_card(
        world.ctx,
        "cit:o-9",
        cust,
        card(),
        amount_cents=1000,
        currency="ZAR",
        product="x",
        browser=BrowserFingerprint(),
    )
    refund = await refund_purchase(world.ctx, paid.purchase_id, 400, refund_ref="r-3")
    assert refund.refund_id
    cancelled = await cancel_refund(world.ctx, paid.purchase_id, refund.refund_id)
    assert cancelled.succeeded
    [p] = await world.sandbox_purchases(reference="cit:o-9")
    assert p["refundable_amount"] == 1000


async def test_read_back_of_an_unknown_attempt(world: World):
    cust = await customer(world)
    await world.faults({"route": "POST /p/*/", "kind": "lost_after_commit", "count": 1})
    outcome = await pay_with_card(
        world.ctx,
        "cit:o-10",
        cust,
        card(),
        amount_cents=1000,
        currency="ZAR",
        product="x",
        browser=BrowserFingerprint(),
    )
    assert outcome.succeeded  # settled at once by reading the purchase back
    assert (await settle_by_read_back(world.ctx, "cit:o-10")).succeeded


async def test_a_repeated_zero_auth_still_reports_its_token(world: World):
    cust = await customer(world)
    kwargs = dict(amount_cents=0, currency="ZAR", product="v", force_recurring=True)
    first = await authorize_card(world.ctx, "zero:again", cust, card(), **kwargs)
    second = await authorize_card(world.ctx, "zero:again", cust, card(), **kwargs)
    assert first.recurring_token and second.recurring_token == first.recurring_token


async def test_a_repeated_3ds_completion_is_settled_by_read_back_not_sent_again(world: World):
    cust = await customer(world)
    outcome = await pay_with_card(
        world.ctx,
        "cit:o-3ds-again",
        cust,
        card("4000000000000002"),
        amount_cents=29900,
        currency="ZAR",
        product="Premium",
        browser=BrowserFingerprint(),
    )
    assert outcome.three_ds is not None
    md = outcome.three_ds.md
    pares = await complete_challenge(
        world.http, outcome.three_ds.acs_url, md, outcome.three_ds.pareq, "http://merchant.test/3ds"
    )
    challenge = await world.ctx.ledger(lambda uow: get_challenge(uow, md))
    # The first completion went through at the gateway, its answer lost: the ledger still
    # shows the attempt submitted.
    await world.ctx.gateway.complete_3ds(challenge.callback_url, md, pares)
    sent = []
    real = world.ctx.gateway.complete_3ds

    async def counting(*args, **kwargs):
        sent.append(args)
        return await real(*args, **kwargs)

    world.ctx.gateway.complete_3ds = counting
    done = await complete_three_ds(world.ctx, md, pares)
    assert done.succeeded and done.purchase_status is Status.PAID
    assert sent == []  # read back, not sent again
