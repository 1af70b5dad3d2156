"""What the real platform does (CONTRACT, last section), point by point, on the sandbox's wire."""

from __future__ import annotations

from typing import Any

import pytest

from payflows.sandbox.cards import CARD_NAMES, UnknownTestCard, card_by_name
from tests.unit.sandbox.conftest import BRAND_ID, DAY, FINGERPRINT, Gateway, card_body, flush


async def _charge(gw: Gateway, token: str, **fields: Any) -> Any:
    purchase = await gw.purchase(**fields)
    return await gw.api("POST", f"purchases/{purchase['id']}/charge/", {"recurring_token": token})


async def test_the_card_saving_purchase_is_the_token_and_charges_name_it(gw: Gateway) -> None:
    """Point 1: is_recurring_token true, recurring_token null; a charge names the token."""
    first = await gw.paid(force_recurring=True)
    assert first["is_recurring_token"] is True and first["recurring_token"] is None
    charged = await _charge(gw, first["id"], client_id=first["client_id"])
    assert charged.status_code == 200, charged.text
    body = charged.json()
    assert body["recurring_token"] == first["id"] and body["is_recurring_token"] is False
    assert body["transaction_data"]["attempts"][0]["type"] == "recurring_execute"


async def test_a_zero_amount_preauthorisation_saves_the_card_without_force_recurring(
    gw: Gateway,
) -> None:
    """Point 2 (sample 06)."""
    verified = await gw.paid(price=0)
    assert verified["status"] == "preauthorized"
    assert verified["is_recurring_token"] is True and verified["recurring_token"] is None
    assert verified["transaction_data"]["attempts"][0]["type"] == "authorize"
    tokens = (await gw.api("GET", f"clients/{verified['client_id']}/recurring_tokens/")).json()
    assert [t["id"] for t in tokens["results"]] == [verified["id"]]
    assert (await _charge(gw, verified["id"])).status_code == 200
    # A paid purchase without force_recurring or remember_card saves nothing.
    assert (await gw.paid())["is_recurring_token"] is False


async def test_deleting_a_card_sends_both_events_and_logs_the_attempt(hooked: Any) -> None:
    """Point 3 (samples 13, 14)."""
    gw, receiver, _ = hooked
    saved = await gw.paid(price=0)
    response = await gw.api("POST", f"purchases/{saved['id']}/delete_recurring_token/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "preauthorized" and body["is_recurring_token"] is False
    assert [a["type"] for a in body["transaction_data"]["attempts"]] == [
        "delete_recurring_token",
        "authorize",
    ]
    await flush(gw)
    events = [(e, b) for e, b in receiver.events() if b["id"] == saved["id"]]
    assert [e for e, _ in events][-2:] == [
        "purchase.pending_recurring_token_delete",
        "purchase.recurring_token_deleted",
    ]
    pending, deleted = events[-2][1], events[-1][1]
    assert pending["is_recurring_token"] is True and deleted["is_recurring_token"] is False
    assert deleted["transaction_data"]["attempts"][0]["type"] == "delete_recurring_token"
    refused = await _charge(gw, saved["id"])
    assert refused.json()["recurring_token"][0]["code"] == "invalid_recurring_token"


async def test_a_migrated_token_is_charged_and_named_on_the_purchase(gw: Gateway) -> None:
    taught = await gw.sandbox("PUT", "recurring_tokens/tok_old_psp/", {"card": "visa_approved"})
    assert taught.status_code == 200
    charged = await _charge(gw, "tok_old_psp")
    assert charged.status_code == 200 and charged.json()["recurring_token"] == "tok_old_psp"


async def test_an_unknown_card_name_is_refused_with_the_valid_names(gw: Gateway) -> None:
    response = await gw.sandbox("PUT", "recurring_tokens/t1/", {"card": "visa_3ds_chalenge"})
    message = response.json()["card"][0]["message"]
    assert response.status_code == 400 and "'visa_3ds_chalenge'" in message
    assert all(name in message for name in CARD_NAMES)
    number = await gw.sandbox("PUT", "recurring_tokens/t2/", {"card": "4111 1111 1111 1111"})
    assert "4111" not in number.text  # a card number is never echoed
    assert card_by_name("visa_3ds_challenge").number == "4000000000000002"
    with pytest.raises(UnknownTestCard, match="visa_approved, visa_3ds_challenge"):
        card_by_name("nope")


async def test_the_refund_answer_is_the_payment_object_of_payment_refunded(hooked: Any) -> None:
    """Point 4 (sample 12): same object in the answer and the webhook, cancel by its id."""
    gw, receiver, _ = hooked
    paid = await gw.paid()
    answer = (await gw.api("POST", f"purchases/{paid['id']}/refund/", {"amount": 500})).json()
    assert answer["type"] == "payment" and answer["status"] == "success"
    assert answer["payment"]["payment_type"] == "refund" and answer["payment"]["is_outgoing"]
    assert answer["related_to"]["id"] == paid["id"] and answer["id"] != paid["id"]
    await flush(gw)
    webhook = next(b for e, b in receiver.events() if e == "payment.refunded")
    assert {k: v for k, v in webhook.items() if k != "event_type"} == answer
    cancel = await gw.api("POST", f"purchases/{paid['id']}/refund/{answer['id']}/cancel/")
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"


async def test_settlement_keeps_the_status_paid(hooked: Any) -> None:
    """Point 5 (sample 07)."""
    gw, receiver, _ = hooked
    paid = await gw.paid()
    await gw.advance(2 * DAY + 1)
    await flush(gw)
    settled = next(b for e, b in receiver.events() if e == "purchase.settled")
    assert settled["status"] == "paid" and settled["status_history"][-1]["status"] == "paid"
    assert settled["transaction_data"]["extra"]["settlement"]["settled_on"] == (
        paid["payment"]["paid_on"] + 2 * DAY
    )


async def test_a_decline_reason_is_on_the_newest_attempt_and_the_failure_event(
    hooked: Any,
) -> None:
    """Point 6 (sample 04)."""
    gw, receiver, _ = hooked
    purchase = await gw.purchase()
    await gw.submit(purchase, card_body("4000000000000036", **FINGERPRINT))
    await flush(gw)
    failure = next(b for e, b in receiver.events() if e == "purchase.payment_failure")
    attempt = failure["transaction_data"]["attempts"][0]
    assert attempt["type"] == "execute" and attempt["successful"] is False
    assert attempt["error"]["code"] == "do_not_honour"


async def test_currency_is_optional_and_payment_methods_are_listed(gw: Gateway) -> None:
    """Points 8 and 9."""
    body = {
        "client": {"email": "a@example.com"},
        "brand_id": BRAND_ID,
        "purchase": {"products": [{"name": "x", "price": 100}]},
    }
    created = await gw.api("POST", "purchases/", body)
    assert created.status_code == 201 and created.json()["purchase"]["currency"] == "ZAR"
    methods = await gw.api("GET", f"payment_methods/?brand_id={BRAND_ID}&currency=ZAR")
    assert methods.status_code == 200
    listed = methods.json()
    assert set(listed) >= {"available_payment_methods", "by_country", "names", "card_methods"}
    assert "visa" in listed["available_payment_methods"] and "visa" in listed["card_methods"]
    wrong = await gw.api("GET", "payment_methods/?brand_id=other&currency=ZAR")
    assert wrong.status_code == 400
    bad = await gw.api("GET", f"payment_methods/?brand_id={BRAND_ID}&currency=XYZ1")
    assert bad.status_code == 400


async def test_bodies_carry_the_real_types(gw: Gateway) -> None:
    """Point 10: decimal strings for quantity and tax, the platform's top-level fields."""
    paid = await gw.paid()
    product = paid["purchase"]["products"][0]
    assert product["quantity"] == "1.0000" and product["tax_percent"] == "0.00"
    for key in ("company_id", "issuer_details", "reference_generated", "refund_availability"):
        assert key in paid
    assert paid["refund_availability"] == "all" and paid["platform"] == "api"


async def test_the_network_transaction_id_is_in_the_guides_answer_only(gw: Gateway) -> None:
    """Point 11: the S2S answer carries it; the purchase object, like the real ones, does not."""
    purchase = await gw.purchase(force_recurring=True)
    answer = (await gw.submit(purchase, card_body("4111111111111111", **FINGERPRINT))).json()
    nti = answer["payment_method_details"]["card"]["network_transaction_id"]
    assert nti and nti.isdigit()
    read = await gw.get(purchase["id"])
    assert "network_transaction_id" not in read["transaction_data"]["extra"]
    tokens = (await gw.api("GET", f"clients/{read['client_id']}/recurring_tokens/")).json()
    assert tokens["results"][0]["network_transaction_id"] == nti


async def test_opening_the_payment_page_marks_the_purchase_viewed(hooked: Any) -> None:
    gw, receiver, _ = hooked
    purchase = await gw.purchase()
    page = await gw.http.get(purchase["checkout_url"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    read = await gw.get(purchase["id"])
    assert read["status"] == "viewed" and isinstance(read["viewed_on"], int)
    assert (await gw.http.get("/p/no-such-purchase/")).status_code == 404
    await flush(gw)
    assert "purchase.viewed" in [e for e, _ in receiver.events()]
    # The payer may still pay a viewed purchase.
    answer = await gw.submit(read, card_body("4111111111111111", **FINGERPRINT))
    assert answer.json()["status"] == "executed"
