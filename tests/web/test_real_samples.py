"""Every one of the seventeen real bodies is read by the client and applied by the receiver as
the platform means it (CONTRACT.md, "What the real platform does").

Structure (keys and JSON types against the sandbox's bodies) is the sandbox's conformance test;
this one checks the *effect* of each real body on the merchant's ledger. Each body is posted,
signed by the test's webhook key, to the web app's receiver over a ledger that made every purchase
of the samples (and holds the two stored cards they concern). Every failure names the sample.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from payflows.domain import Status
from payflows.gateway import WebhookEvent
from payflows.ledger import PaymentMethod, UnitOfWork
from payflows.ledger.models import AttemptState
from payflows.webhooks import store_and_apply
from tests.web.support import (
    ALL_SAMPLES,
    SAMPLE_PURCHASES,
    SAMPLE_TOKENS,
    attempt_of,
    ledger_snapshot,
    sample,
    seed_card,
    seed_purchase,
    signed,
    stored_events,
)

URL = "/webhooks/precium"
PAID = "bb2529fa-42b7-404b-a412-ed75b2191b38"
CREATED = "41336826-052f-431d-98f0-dcccc3969ebf"
VIEWED = "194b7203-dd98-4c05-b14b-debb67165fd3"
PENDING = "a1b8daa2-4c15-4403-b5a0-997a1923ff4e"
ZERO_AUTH = "4352941c-d3a0-4f54-b69d-1b0dfc6a6335"
SETTLED = "8d065839-77c6-4f65-980b-dbb8a5eb2886"
HELD = "b6cd91ee-3969-49e1-87e1-0d2dbc277294"
REFUND = "e8106d24-f47e-4fcd-badf-296958410880"
TOKEN = "29574aa0-cb2a-4f50-9493-0be4410693f8"
RELEASED = "38928be3-fff3-4166-8732-2f7d311b6b85"
CANCELLED = "4bfa3571-66d5-4940-8adc-13b1c6714e11"

#: Sample -> (event type, purchase id, status the ledger stores for the delivery).
READ = {
    "01": ("purchase.paid", PAID, "paid"),
    "02": ("purchase.created", CREATED, "created"),
    "03": ("purchase.viewed", VIEWED, "viewed"),
    "04": ("purchase.payment_failure", CREATED, "error"),
    "05": ("purchase.pending_execute", PENDING, "pending_execute"),
    "06": ("purchase.preauthorized", ZERO_AUTH, "preauthorized"),
    "07": ("purchase.settled", SETTLED, "settled"),  # the body says "paid"
    "08": ("purchase.hold", HELD, "hold"),
    "09": ("purchase.pending_capture", HELD, "pending_capture"),
    "10": ("purchase.captured", HELD, "paid"),
    "11": ("purchase.pending_refund", HELD, "pending_refund"),
    "12": ("payment.refunded", HELD, None),  # the refund's payment object: no purchase status
    "13": ("purchase.pending_recurring_token_delete", TOKEN, "preauthorized"),
    "14": ("purchase.recurring_token_deleted", TOKEN, "preauthorized"),
    "15": ("purchase.pending_release", RELEASED, "pending_release"),
    "16": ("purchase.released", RELEASED, "released"),
    "17": ("purchase.cancelled", CANCELLED, "cancelled"),
}


def _card(engine, token: str) -> PaymentMethod:
    with UnitOfWork(engine) as uow:
        method = uow.session.exec(
            select(PaymentMethod).where(PaymentMethod.recurring_token == token)
        ).one()
        uow.session.expunge(method)
        return method


def _status(engine, purchase_id: str, expected: str, name: str) -> None:
    attempt = attempt_of(engine, purchase_id)
    got = attempt.purchase_status.value if attempt.purchase_status else None
    assert got == expected, f"{name}: purchase {purchase_id} is {got}, expected {expected}"


def _effect_01(engine, name):
    _status(engine, PAID, "paid", name)
    attempt = attempt_of(engine, PAID)
    assert attempt.state is AttemptState.SUCCEEDED, name
    assert attempt.paid_cents == 200, f"{name}: paid amount not recorded"


def _effect_04(engine, name):
    _status(engine, CREATED, "error", name)
    attempt = attempt_of(engine, CREATED)
    assert attempt.state is AttemptState.DECLINED, name
    assert attempt.decline_code == "general_transaction_error", (
        f"{name}: the decline code of attempts[0].error.code was not recorded "
        f"(got {attempt.decline_code!r})"
    )


def _effect_06(engine, name):
    _status(engine, ZERO_AUTH, "preauthorized", name)
    assert _card(engine, ZERO_AUTH).deleted_at is None, f"{name}: a saved card marked deleted"


def _effect_07(engine, name):
    _status(engine, SETTLED, "settled", name)
    attempt = attempt_of(engine, SETTLED)
    assert attempt.settled_at == datetime.fromtimestamp(1706976569, UTC), (
        f"{name}: settlement not read from transaction_data.extra.settlement.settled_on"
    )


def _effect_10(engine, name):
    _status(engine, HELD, "paid", name)
    assert ledger_snapshot(engine)["holds"][HELD] == ("paid", 100), f"{name}: hold not captured"


def _effect_12(engine, name):
    refunds = ledger_snapshot(engine)["refunds"]
    assert refunds == {REFUND: (HELD, 100, "MYR", "settled")}, (
        f"{name}: expected refund {REFUND} of 100 MYR done (the platform says success), "
        f"got {refunds}"
    )
    _status(engine, HELD, "refunded", name)  # all 100 cents of the purchase refunded


def _deleted(engine, name):
    method = _card(engine, TOKEN)
    assert method.deleted_at is not None, f"{name}: the stored card {TOKEN} is not marked deleted"
    at = datetime.fromtimestamp(json.loads(sample(name))["updated_on"], UTC)
    assert method.deleted_at == at, f"{name}: deleted_at {method.deleted_at} is not {at}"


def _status_only(purchase_id: str, status: str) -> Callable:
    return lambda engine, name: _status(engine, purchase_id, status, name)


EFFECTS: dict[str, Callable] = {
    "01": _effect_01,
    "02": _status_only(CREATED, "created"),
    "03": _status_only(VIEWED, "viewed"),
    "04": _effect_04,
    "05": _status_only(PENDING, "pending_execute"),
    "06": _effect_06,
    "07": _effect_07,
    "08": _status_only(HELD, "hold"),
    "09": _status_only(HELD, "pending_capture"),
    "10": _effect_10,
    "11": _status_only(HELD, "pending_refund"),
    "12": _effect_12,
    "13": _deleted,
    "14": _deleted,
    "15": _status_only(RELEASED, "pending_release"),
    "16": _status_only(RELEASED, "released"),
    "17": _status_only(CANCELLED, "cancelled"),
}


def _seed(engine, number: str) -> None:
    for purchase_id, hold in SAMPLE_PURCHASES.items():
        seed_purchase(engine, purchase_id, hold=hold)
    for token in SAMPLE_TOKENS:
        seed_card(engine, token, external_id=f"cus-{token[:8]}")
    if number in {"11", "12"}:
        # The hold had been captured (100 MYR) before the refund samples arrive.
        raw = sample("10-event-Purchase-captured")
        store_and_apply(engine, raw, WebhookEvent.parse(raw))


def test_every_sample_has_an_expected_reading_and_effect():
    numbers = [p.name[:2] for p in ALL_SAMPLES]
    assert len(numbers) == 17
    assert sorted(READ) == numbers == sorted(EFFECTS)


@pytest.mark.parametrize("path", ALL_SAMPLES, ids=lambda p: p.name)
def test_the_client_reads_each_real_body(path: Path):
    name = path.name
    event = WebhookEvent.parse(path.read_bytes())
    event_type, purchase_id, _ = READ[name[:2]]
    assert (event.event_type, event.purchase_id) == (event_type, purchase_id), name
    if event_type == "payment.refunded":
        assert (event.refund_id, event.amount, event.currency) == (REFUND, 100, "MYR"), name
        assert event.refund_status == "success", name
        return
    assert event.purchase is not None and event.purchase.id == purchase_id, name
    purchase = event.purchase
    # The token is the purchase that saved the card; its recurring_token stays null.
    if name[:2] in {"06", "13"}:
        assert purchase.saved_token == purchase_id, f"{name}: the token is this purchase's id"
        assert purchase.recurring_token is None, name
    elif name[:2] == "14":
        assert purchase.saved_token is None and purchase.token_deleted, name
    else:
        assert purchase.saved_token is None and not purchase.token_deleted, name
    if name[:2] == "04":
        assert purchase.decline is not None, name
        assert purchase.decline.code == "general_transaction_error", name
    if name[:2] == "07":
        assert purchase.status is Status.PAID, name
        assert purchase.settled_on == datetime.fromtimestamp(1706976569, UTC), name


@pytest.mark.parametrize("path", ALL_SAMPLES, ids=lambda p: p.name)
async def test_the_receiver_applies_each_real_body(receiver, engine, webhook_key, path: Path):
    name = path.name
    _seed(engine, name[:2])
    before = len(stored_events(engine))
    raw = path.read_bytes()

    response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))

    assert response.status_code == 200, f"{name}: {response.status_code} {response.text}"
    body = response.json()
    assert body["applied"] is True, f"{name}: not applied ({body})"
    _, purchase_id, status = READ[name[:2]]
    rows = stored_events(engine)
    assert len(rows) == before + 1 or body["duplicate"], name
    row = next(r for r in reversed(rows) if r.event_type == READ[name[:2]][0])
    assert (row.purchase_id, row.status, row.applied) == (purchase_id, status, True), name
    EFFECTS[name[:2]](engine, name)


async def test_a_refund_of_a_purchase_the_ledger_never_made_is_kept_not_applied(
    receiver, engine, webhook_key
):
    raw = sample("12-event-Purchase-refunded")

    response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))

    assert response.status_code == 200
    assert response.json()["applied"] is False
    (row,) = stored_events(engine)
    assert row.applied is False and row.purchase_id == HELD  # listed by reconciliation
    assert ledger_snapshot(engine)["refunds"] == {}


async def test_a_token_deleted_by_someone_else_is_marked_deleted_from_the_first_event(
    receiver, engine, webhook_key
):
    seed_card(engine, TOKEN)
    for name in ("13-", "14-"):
        raw = sample(name)
        response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))
        assert response.status_code == 200 and response.json()["applied"], name
    # The pending delete (13) came first: its time is the deletion's.
    pending_at = json.loads(sample("13-"))["updated_on"]
    assert _card(engine, TOKEN).deleted_at == datetime.fromtimestamp(pending_at, UTC)


async def test_a_token_deletion_for_a_card_the_ledger_holds_without_its_purchase(
    receiver, engine, webhook_key
):
    """An imported card (no attempt in the ledger made its purchase) is still marked deleted."""
    from payflows.ledger import upsert_customer, upsert_payment_method

    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, "cus-imported", email="imported@example.test")
        upsert_payment_method(uow, TOKEN, customer_id=customer.id)
        uow.commit()
    raw = sample("14-")

    response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))

    assert response.json()["applied"] is True
    assert _card(engine, TOKEN).deleted_at is not None


async def test_a_subscription_charge_failure_keeps_its_decline_code_too(
    receiver, engine, webhook_key
):
    seed_purchase(engine, CREATED)
    body = json.loads(sample("04-"))
    body["event_type"] = "purchase.subscription_charge_failure"
    body["transaction_data"]["attempts"][0]["error"]["code"] = "insufficient_funds"
    raw = json.dumps(body).encode()

    response = await receiver.post(URL, content=raw, headers=signed(raw, webhook_key))

    assert response.json()["applied"] is True
    assert attempt_of(engine, CREATED).decline_code == "insufficient_funds"
