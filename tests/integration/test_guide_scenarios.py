"""Every scenario of Precium's S2S integration guide, through PreciumClient, over loopback HTTP.

The bodies follow the guide's examples; the sandbox answers as docs/gateway-wire.md says.
"""

from __future__ import annotations

import uuid

import pytest

from payflows.domain import Status
from payflows.gateway import (
    CardDeclinedError,
    CardFlags,
    ClientDetails,
    InvalidStateError,
    NotFoundError,
    PreciumClient,
    Product,
    Purchase,
    PurchaseRequest,
    SubmissionStatus,
    ValidationError,
    verify_signature,
)
from tests.integration.support import SHOP, Flow, Receiver, SandboxControl

GUIDE_CARD = "4000000000001091"  # the guide's own card: 3DS challenge when a browser is present
NO_3DS_CARD = "4111111111111111"


def _statuses(purchase: Purchase) -> list[str]:
    return [change.status.value for change in purchase.status_history]


# -- zero authorisation and clients ------------------------------------------------------------


async def test_zero_auth_with_force_recurring_preauthorises_and_stores_the_card(
    flow: Flow, gateway: PreciumClient
) -> None:
    client = await flow.client()
    request = PurchaseRequest(
        currency="ZAR",
        products=[Product(name="Card Validation", price=0)],
        client_id=client.id,
        force_recurring=True,
        **SHOP,
    )
    purchase = await gateway.create_purchase(request)
    assert purchase.total == 0 and purchase.direct_post_url

    answer = await flow.submit(purchase, NO_3DS_CARD)

    assert answer.status is SubmissionStatus.AUTHORIZED
    assert answer.purchase_status is Status.PREAUTHORIZED
    assert answer.card is not None and answer.card.token == purchase.id
    read = await gateway.get_purchase(purchase.id)
    assert read.status is Status.PREAUTHORIZED
    assert read.is_recurring_token and read.recurring_token is None  # the token is its id
    assert read.payment is None and read.refundable_amount == 0
    tokens = await gateway.list_recurring_tokens(client.id)
    assert [t.recurring_token for t in tokens.results] == [purchase.id]
    assert tokens.results[0].masked_pan == "411111******1111"


async def test_client_crud_and_its_recurring_tokens(flow: Flow, gateway: PreciumClient) -> None:
    email = f"crud-{uuid.uuid4().hex[:10]}@example.com"
    created = await gateway.create_client(
        ClientDetails(
            email=email,
            phone="+27123456789",
            full_name="Customer Name",
            street_address="1 Long Street",
            city="Cape Town",
            state="Western Cape",
            zip_code="8001",
            country="South Africa",
        )
    )
    assert created.email == email and created.created_on is not None
    assert (await gateway.get_client(created.id)) == created
    listed = await gateway.list_clients(email=email)
    assert [c.id for c in listed.results] == [created.id]

    patched = await gateway.update_client(created.id, ClientDetails(city="Durban"))
    assert patched.city == "Durban" and patched.street_address == "1 Long Street"
    replaced = await gateway.update_client(
        created.id, ClientDetails(email=email, full_name="New Name"), partial=False
    )
    assert replaced.full_name == "New Name" and not replaced.city

    assert (await gateway.list_recurring_tokens(created.id)).results == []
    paid = await flow.paid(client_id=created.id, force_recurring=True)
    tokens = (await gateway.list_recurring_tokens(created.id)).results
    assert len(tokens) == 1
    assert tokens[0].recurring_token == paid.id
    assert tokens[0].card_brand == "visa"
    assert tokens[0].network_transaction_id and tokens[0].network_transaction_id.isdigit()

    await gateway.delete_client(created.id)
    with pytest.raises(NotFoundError):
        await gateway.get_client(created.id)


# -- pre-authorisation: hold, capture, void ----------------------------------------------------


async def test_preauth_with_3ds_challenge_holds_then_captures_in_full(
    flow: Flow, gateway: PreciumClient
) -> None:
    purchase = await flow.purchase(
        450_000,
        name="Hotel Reservation - 3 Nights",
        skip_capture=True,
        force_recurring=True,
        payment_method_whitelist=["visa", "mastercard", "maestro"],
    )
    submission = await flow.submit(purchase, GUIDE_CARD, remember_card=True)
    assert submission.requires_3ds
    assert (await gateway.get_purchase(purchase.id)).status is Status.PENDING_EXECUTE

    result = await flow.pass_3ds(submission)

    assert result.purchase_id == purchase.id and result.status is Status.HOLD
    held = await gateway.get_purchase(purchase.id)
    assert held.status is Status.HOLD and held.refundable_amount == 0
    captured = await gateway.capture(purchase.id)
    assert captured.status is Status.PAID
    assert captured.payment is not None and captured.payment.amount == 450_000
    assert captured.refundable_amount == 450_000
    assert _statuses(captured) == [
        "created", "pending_execute", "hold", "pending_capture", "paid",
    ]  # fmt: skip


async def test_partial_capture_releases_the_remainder(flow: Flow, gateway: PreciumClient) -> None:
    held = await flow.paid(price=450_000, skip_capture=True)
    assert held.status is Status.HOLD

    captured = await gateway.capture(held.id, 400_000)

    assert captured.status is Status.PAID
    assert captured.payment is not None and captured.payment.amount == 400_000
    assert captured.refundable_amount == 400_000
    assert captured.transaction_data.attempts[0].type == "capture"
    with pytest.raises(ValidationError) as refused:
        await gateway.refund(held.id, 400_001)
    assert "amount" in refused.value.fields


async def test_hold_is_voided_by_release(flow: Flow, gateway: PreciumClient) -> None:
    held = await flow.paid(price=100_000, skip_capture=True)

    released = await gateway.release(held.id)

    assert released.status is Status.RELEASED
    assert released.refundable_amount == 0
    with pytest.raises(InvalidStateError) as refused:
        await gateway.capture(held.id)
    assert refused.value.code == "purchase_capture_error"


async def test_hold_is_voided_by_cancel_as_the_guide_does(
    flow: Flow, gateway: PreciumClient
) -> None:
    held = await flow.paid(price=100_000, skip_capture=True)

    cancelled = await gateway.cancel(held.id)

    assert cancelled.status is Status.CANCELLED and cancelled.cancelled_on is not None
    assert (await gateway.get_purchase(held.id)).status is Status.CANCELLED


async def test_recurring_preauth_on_a_stored_credential_takes_cvc_000_without_challenge(
    flow: Flow, gateway: PreciumClient
) -> None:
    first = await flow.paid(force_recurring=True)
    purchase = await flow.purchase(
        500_000,
        client_id=first.client_id,
        name="Recurring Pre-Authorization",
        redirects=False,
        skip_capture=True,
        card=CardFlags(
            is_recurring=True,
            previous_network_transaction_id=first.network_transaction_id,
            original_amount_cents=10_000,
        ),
    )
    assert purchase.direct_post_url, "a stored-credential purchase is S2S-payable"
    assert purchase.purchase is not None
    card_flags = purchase.purchase.payment_method_details["card"]
    assert card_flags["original_amount_cents"] in (10_000, "10000")

    # The guide's card and placeholder CVC, with a browser present: still no challenge.
    answer = await flow.submit(purchase, GUIDE_CARD, cvc="000")

    assert answer.status is SubmissionStatus.AUTHORIZED
    assert (await gateway.get_purchase(purchase.id)).status is Status.HOLD


# -- customer-initiated payments ---------------------------------------------------------------


async def test_cit_with_precium_3ds_approved_stores_token_and_network_transaction_id(
    flow: Flow, gateway: PreciumClient
) -> None:
    purchase = await flow.purchase(force_recurring=True)
    submission = await flow.submit(purchase, GUIDE_CARD, remember_card=True)
    challenge = submission.three_ds
    assert challenge is not None and challenge.callback_url
    assert challenge.url.startswith(flow.gateway.base_url.removesuffix("api/v1/"))

    result = await flow.pass_3ds(submission)

    assert result.status is Status.PAID and result.transaction_id
    assert result.card is not None
    assert result.card.token == purchase.id
    assert result.card.last_4 == "1091" and result.card.brand == "visa"
    assert result.card.network_transaction_id
    read = await gateway.get_purchase(purchase.id)
    assert read.status is Status.PAID and read.is_recurring_token
    assert read.recurring_token is None
    # Where the real platform has it: in the 3DS answer, never in transaction_data.extra.
    assert read.network_transaction_id is None
    assert read.masked_pan == "400000******1091"
    tokens = (await gateway.list_recurring_tokens(read.client_id or "")).results
    assert [t.network_transaction_id for t in tokens] == [result.card.network_transaction_id]


async def test_cit_with_precium_3ds_failed_on_the_acs_page_is_a_hard_decline(
    flow: Flow, gateway: PreciumClient
) -> None:
    purchase = await flow.purchase(force_recurring=True)
    submission = await flow.submit(purchase, GUIDE_CARD, remember_card=True)

    with pytest.raises(CardDeclinedError) as declined:
        await flow.pass_3ds(submission, approve=False)

    assert declined.value.code == "3ds_authentication_failed" and declined.value.hard
    read = await gateway.get_purchase(purchase.id)
    assert read.status is Status.ERROR and not read.is_recurring_token
    assert read.last_error is not None and read.last_error.code == "3ds_authentication_failed"


async def test_replayed_3ds_callback_answers_the_same_and_charges_once(
    flow: Flow, gateway: PreciumClient
) -> None:
    purchase = await flow.purchase()
    submission = await flow.submit(purchase, "4000000000000002")
    pares = await flow.shopper_answers(submission)
    challenge = submission.three_ds
    assert challenge is not None and challenge.callback_url

    first = await gateway.complete_3ds(challenge.callback_url, challenge.md, pares)
    again = await gateway.complete_3ds(challenge.callback_url, challenge.md, pares)

    assert first == again and first.status is Status.PAID
    read = await gateway.get_purchase(purchase.id)
    assert [a.type for a in read.transaction_data.attempts] == ["execute"]


async def test_frictionless_3ds_pays_without_a_challenge(flow: Flow) -> None:
    purchase = await flow.purchase()
    answer = await flow.submit(purchase, "4000000000000010")
    assert answer.status is SubmissionStatus.EXECUTED
    assert answer.purchase_status is Status.PAID


async def test_external_3ds_with_own_mpi_fields_pays_without_challenge(
    flow: Flow, gateway: PreciumClient
) -> None:
    purchase = await flow.purchase(
        50_000,
        name="Once off charge",
        card=CardFlags(
            is_external_3ds=True,
            authentication_transaction_id="GAux5DosxbhI35RL8nc0",
            cavv="AAABBBCCCdddEEEfff111222333=",
            xid="xidTestValue",
            eci_raw="05",
        ),
    )
    assert purchase.purchase is not None
    assert purchase.purchase.payment_method_details["card"]["is_external_3DS"] is True

    answer = await flow.submit(purchase, GUIDE_CARD, cvc="000")

    assert answer.status is SubmissionStatus.EXECUTED
    assert (await gateway.get_purchase(purchase.id)).status is Status.PAID


async def test_external_3ds_without_cavv_is_declined(flow: Flow) -> None:
    purchase = await flow.purchase(card=CardFlags(is_external_3ds=True, eci_raw="05"))
    with pytest.raises(CardDeclinedError) as declined:
        await flow.submit(purchase, GUIDE_CARD, cvc="000")
    assert declined.value.code == "3ds_authentication_failed"


async def test_network_token_purchase_needs_no_card_fields(
    flow: Flow, gateway: PreciumClient
) -> None:
    purchase = await flow.purchase(
        25_000,
        name="Network Token Purchase",
        redirects=False,
        card=CardFlags(
            network_token="4895370012341234",
            network_token_cryptogram="AgAAAAAABk4DWZ4C28yUQAAAAAA=",
            token_requestor_id="50110030273",
            is_recurring=True,
        ),
    )
    assert purchase.direct_post_url

    answer = await flow.submit(purchase, None)

    assert answer.status is SubmissionStatus.EXECUTED
    read = await gateway.get_purchase(purchase.id)
    assert read.status is Status.PAID and read.payment is not None
    assert read.payment.amount == 25_000
    assert read.masked_pan == "489537******1234"


async def test_non_3ds_payment_is_approved_when_the_brand_allows_it(
    flow: Flow, gateway: PreciumClient
) -> None:
    purchase = await flow.purchase(5_000, name="Frictionless charge")

    # The guide's 3DS card, no browser fingerprint: no challenge is asked for.
    answer = await flow.submit(purchase, GUIDE_CARD, cvc="000", browser=False)

    assert answer.status is SubmissionStatus.EXECUTED
    assert (await gateway.get_purchase(purchase.id)).status is Status.PAID


async def test_non_3ds_payment_is_refused_s2s_not_supported_when_the_brand_does_not_allow_it(
    flow: Flow, gateway: PreciumClient, control: SandboxControl
) -> None:
    assert (await control.configure(allow_non_3ds=False))["allow_non_3ds"] is False
    purchase = await flow.purchase(5_000)

    with pytest.raises(CardDeclinedError) as declined:
        await flow.submit(purchase, GUIDE_CARD, cvc="000", browser=False)

    assert declined.value.code == "s2s_not_supported" and declined.value.hard
    assert declined.value.purchase_id == purchase.id
    # A refusal before the network leaves the purchase payable: with 3DS it goes through.
    assert (await gateway.get_purchase(purchase.id)).status is Status.CREATED
    assert (await flow.submit(purchase, NO_3DS_CARD)).status is SubmissionStatus.EXECUTED


# -- merchant-initiated charges ----------------------------------------------------------------


async def test_mit_purchase_is_charged_with_the_recurring_token(
    flow: Flow, gateway: PreciumClient
) -> None:
    first = await flow.paid(force_recurring=True)
    assert first.is_recurring_token and first.recurring_token is None
    purchase = await flow.purchase(
        29_900,
        client_id=first.client_id,
        name="Monthly Subscription - February 2026",
        card=CardFlags(
            is_recurring=True,
            previous_network_transaction_id=first.network_transaction_id,
            original_amount_cents=29_900,
        ),
    )

    charged = await gateway.charge(purchase.id, first.id)

    assert charged.status is Status.PAID
    assert charged.payment is not None and charged.payment.amount == 29_900
    assert charged.transaction_data.attempts[0].type == "recurring_execute"
    assert charged.recurring_token == first.id and not charged.is_recurring_token
    assert charged.masked_pan == first.masked_pan
    assert _statuses(charged) == ["created", "pending_charge", "paid"]


async def test_deleted_recurring_token_can_no_longer_be_charged(
    flow: Flow, gateway: PreciumClient
) -> None:
    first = await flow.paid(force_recurring=True)

    deleted = await gateway.delete_recurring_token(first.id)

    assert not deleted.is_recurring_token and deleted.recurring_token is None
    assert (await gateway.list_recurring_tokens(first.client_id or "")).results == []
    purchase = await flow.purchase(client_id=first.client_id)
    with pytest.raises(InvalidStateError) as refused:
        await gateway.charge(purchase.id, first.id)
    assert refused.value.code == "invalid_recurring_token"
    assert "recurring_token" in refused.value.fields
    assert (await gateway.get_purchase(purchase.id)).status is Status.CREATED


# -- cancel and refund -------------------------------------------------------------------------


async def test_paid_purchase_is_cancelled_before_settlement(
    flow: Flow, gateway: PreciumClient
) -> None:
    paid = await flow.paid()

    cancelled = await gateway.cancel(paid.id)

    assert cancelled.status is Status.CANCELLED and cancelled.cancelled_on is not None
    assert cancelled.refundable_amount == 0


async def test_partial_refund_then_refund_cancel_restores_the_refundable_amount(
    flow: Flow, gateway: PreciumClient
) -> None:
    paid = await flow.paid(price=29_900)

    refund = await gateway.refund(paid.id, 15_000)

    assert refund.purchase_id == paid.id and refund.refund_id
    assert refund.amount == 15_000 and refund.currency == "ZAR"
    assert refund.refunded_on is not None
    after = await gateway.get_purchase(paid.id)
    assert after.status is Status.PAID and after.refundable_amount == 14_900

    cancelled = await gateway.cancel_refund(paid.id, refund.refund_id)

    assert cancelled.status == "cancelled" and cancelled.refund_id == refund.refund_id
    assert (await gateway.get_purchase(paid.id)).refundable_amount == 29_900


async def test_full_refund_makes_the_purchase_refunded(flow: Flow, gateway: PreciumClient) -> None:
    paid = await flow.paid(price=10_000)
    refund = await gateway.refund(paid.id)
    assert refund.amount == 10_000
    read = await gateway.get_purchase(paid.id)
    assert read.status is Status.REFUNDED and read.refundable_amount == 0


async def test_refund_above_the_refundable_amount_is_refused_with_field_messages(
    flow: Flow, gateway: PreciumClient
) -> None:
    paid = await flow.paid(price=29_900)

    with pytest.raises(ValidationError) as refused:
        await gateway.refund(paid.id, 29_901)

    error = refused.value
    assert isinstance(error, InvalidStateError) and error.code == "purchase_refund_error"
    assert error.status_code == 400 and not error.retry_safe
    assert error.fields["amount"] and "29900" in error.fields["amount"][0]
    assert (await gateway.get_purchase(paid.id)).refundable_amount == 29_900


# -- keys and webhooks -------------------------------------------------------------------------


async def test_public_key_verifies_the_success_callback(
    flow: Flow, gateway: PreciumClient, receiver: Receiver, control: SandboxControl
) -> None:
    pem = await gateway.get_public_key()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert await gateway.get_public_key() == pem
    name = receiver.new_name()

    await flow.paid(success_callback=receiver.url(name))
    await control.flush_webhooks()

    [delivery] = receiver.accepted(name)
    assert b'"event_type":"purchase.paid"' in delivery.body
    assert verify_signature(delivery.body, delivery.signature, pem)


async def test_webhooks_crud(gateway: PreciumClient, receiver: Receiver) -> None:
    url = receiver.url(receiver.new_name())
    created = await gateway.create_webhook("orders", url, events=["purchase.paid"])
    try:
        assert created.title == "orders" and created.callback == url
        assert created.events == ["purchase.paid"] and not created.all_events
        assert created.public_key and "BEGIN PUBLIC KEY" in created.public_key
        assert (await gateway.get_webhook(created.id)) == created
        assert created.id in [w.id for w in (await gateway.list_webhooks()).results]

        patched = await gateway.update_webhook(created.id, title="all orders", all_events=True)
        assert patched.title == "all orders" and patched.all_events
        assert patched.events == ["purchase.paid"] and patched.public_key == created.public_key
        replaced = await gateway.update_webhook(
            created.id,
            title="refunds",
            callback=url,
            events=["payment.refunded"],
            partial=False,
        )
        assert replaced.events == ["payment.refunded"] and not replaced.all_events
    finally:
        await gateway.delete_webhook(created.id)
    with pytest.raises(NotFoundError):
        await gateway.get_webhook(created.id)
    assert created.id not in [w.id for w in (await gateway.list_webhooks()).results]
