"""Every decline card of docs/test-cards.md, through PreciumClient: the code, soft or hard as the
table says, and the network's response and advice codes."""

from __future__ import annotations

import pytest

from payflows.domain import Status
from payflows.gateway import CardDeclinedError, PreciumClient, SubmissionStatus
from tests.integration.support import Flow

#: number, code, network code, soft?
CIT_DECLINES = [
    pytest.param("4000000000000028", "insufficient_funds", "51", True, id="insufficient_funds"),
    pytest.param("4000000000000036", "do_not_honour", "05", True, id="do_not_honour"),
    pytest.param("4000000000000044", "expired_card", "54", False, id="expired_card"),
    pytest.param("4000000000000051", "authorization_failed", "43", False, id="stolen_card"),
    pytest.param("4000000000000069", "3ds_authentication_failed", None, False, id="acs_refuses"),
]

#: number, code, network code, advice code, soft?
MIT_DECLINES = [
    pytest.param("4000000000000085", "insufficient_funds", "51", None, True, id="visa_51"),
    pytest.param("4000000000000093", "authorization_failed", "R1", None, False, id="visa_R1"),
    pytest.param("5100000000000016", "insufficient_funds", "51", "24", True, id="mc_retry_later"),
    pytest.param("5100000000000024", "do_not_honour", "05", "21", False, id="mc_stop"),
]


@pytest.mark.parametrize(("number", "code", "network_code", "soft"), CIT_DECLINES)
async def test_cit_decline_card_is_declined_as_the_table_says(
    flow: Flow,
    gateway: PreciumClient,
    number: str,
    code: str,
    network_code: str | None,
    soft: bool,
) -> None:
    purchase = await flow.purchase()

    with pytest.raises(CardDeclinedError) as declined:
        await flow.submit(purchase, number)

    error = declined.value
    assert error.code == code and error.decline.code == code
    assert error.decline.network_code == network_code
    assert error.soft is soft and error.hard is not soft
    assert error.purchase_id == purchase.id and error.status_code == 400
    assert not error.retry_safe and error.outcome_known
    assert number not in str(error) and number not in repr(error)
    read = await gateway.get_purchase(purchase.id)
    assert read.status is Status.ERROR
    assert read.last_error is not None and read.last_error.code == code
    assert read.last_error.network_code == network_code


@pytest.mark.parametrize(("number", "code", "network_code", "advice_code", "soft"), MIT_DECLINES)
async def test_mit_decline_card_pays_once_then_declines_the_charge(
    flow: Flow,
    gateway: PreciumClient,
    number: str,
    code: str,
    network_code: str,
    advice_code: str | None,
    soft: bool,
) -> None:
    first = await flow.paid(number, force_recurring=True)
    assert first.status is Status.PAID
    purchase = await flow.purchase(client_id=first.client_id)

    with pytest.raises(CardDeclinedError) as declined:
        await gateway.charge(purchase.id, first.id)

    error = declined.value
    assert error.code == code
    assert error.decline.network_code == network_code
    assert error.decline.advice_code == advice_code
    assert error.soft is soft
    assert error.purchase_id == purchase.id
    read = await gateway.get_purchase(purchase.id)
    assert read.status is Status.ERROR
    assert [c.status.value for c in read.status_history] == ["created", "pending_charge", "error"]
    assert read.last_error == error.decline


async def test_declined_purchase_stays_payable_with_another_card(
    flow: Flow, gateway: PreciumClient
) -> None:
    purchase = await flow.purchase()
    with pytest.raises(CardDeclinedError):
        await flow.submit(purchase, "4000000000000028")

    again = await gateway.get_purchase(purchase.id)
    assert again.status is Status.ERROR and again.direct_post_url

    answer = await flow.submit(again, "5100000000000008")
    assert answer.status is SubmissionStatus.EXECUTED
    assert (await gateway.get_purchase(purchase.id)).status is Status.PAID


@pytest.mark.parametrize(
    ("number", "cvc", "expires", "code"),
    [
        pytest.param("4000000000000101", "123", "12/35", "validation_card_number_invalid",
                     id="number_not_in_the_table"),
        pytest.param("4111111111111111", "123", "01/20", "validation_expires_invalid",
                     id="expiry_in_the_past"),
        pytest.param("4444333322221111", "999", "12/35", "validation_cvc_invalid",
                     id="chip_card_wrong_cvc"),
        pytest.param("5555555555554444", "000", "12/35", "validation_cvc_invalid",
                     id="chip_3ds_card_placeholder_cvc_on_a_cit"),
    ],
)  # fmt: skip
async def test_card_that_breaks_a_rule_is_refused_before_the_network(
    flow: Flow, gateway: PreciumClient, number: str, cvc: str, expires: str, code: str
) -> None:
    purchase = await flow.purchase()

    with pytest.raises(CardDeclinedError) as refused:
        await flow.submit(purchase, number, cvc=cvc, expires=expires)

    assert refused.value.code == code and refused.value.hard
    assert (await gateway.get_purchase(purchase.id)).status is Status.CREATED


async def test_chip_test_cards_take_cvc_123(flow: Flow, gateway: PreciumClient) -> None:
    plain = await flow.paid("4444333322221111")
    assert plain.status is Status.PAID
    purchase = await flow.purchase()
    submission = await flow.submit(purchase, "5555555555554444")
    assert submission.requires_3ds
    assert (await flow.pass_3ds(submission)).status is Status.PAID


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("5100000000000008", "mastercard"),
        ("6767700000000005", "maestro"),
        ("378282246310005", "amex"),
    ],
)
async def test_approved_cards_of_every_brand_pay_and_charge(
    flow: Flow, gateway: PreciumClient, number: str, brand: str
) -> None:
    first = await flow.paid(number, force_recurring=True)
    assert first.status is Status.PAID and first.card_brand == brand
    purchase = await flow.purchase(client_id=first.client_id)
    assert (await gateway.charge(purchase.id, first.id)).status is Status.PAID
