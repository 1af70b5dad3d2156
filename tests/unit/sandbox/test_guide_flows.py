"""Every request body of Precium's S2S guide, verbatim, against the sandbox.

Only the ``{{placeholders}}`` are filled in (the client id, the sandbox's brand id, the URLs the
sandbox hands out). Where the guide itself is incomplete (its pre-authorisation example never
sets ``skip_capture``, so on CHIP it pays at once), the test says so.
"""

from __future__ import annotations

from typing import Any

from tests.unit.sandbox.conftest import (
    API,
    BRAND_ID,
    DAY,
    Gateway,
    assert_history_follows_table,
)

GUIDE_CLIENT = {
    "email": "customer@example.com",
    "phone": "+27123456789",
    "full_name": "Customer Name",
    "street_address": "1 Long Street",
    "city": "Cape Town",
    "state": "Western Cape",
    "zip_code": "8001",
    "country": "South Africa",
}
GUIDE_CARD_3DS = {
    "cardholder_name": "John Smith",
    "card_number": "4000000000001091",
    "expires": "12/28",
    "cvc": "123",
    "remember_card": "on",
    "remote_ip": "196.21.45.123",
    "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
    "accept_header": "text/html",
    "language": "en-US",
    "java_enabled": False,
    "javascript_enabled": True,
    "color_depth": 24,
    "utc_offset": 0,
    "screen_width": 1920,
    "screen_height": 1080,
}
GUIDE_CARD_STORED = {
    "cardholder_name": "John Smith",
    "card_number": "4000000000001091",
    "expires": "12/28",
    "cvc": "000",
    "remember_card": "off",
    "remote_ip": "8.8.8.8",
}
GUIDE_CARD_EXT_3DS = {
    **GUIDE_CARD_STORED,
    "user_agent": "Mozilla/5.0...",
    "accept_header": "text/html",
    "language": "en-US",
    "java_enabled": False,
    "javascript_enabled": True,
    "color_depth": 24,
    "utc_offset": 0,
    "screen_width": 1920,
    "screen_height": 1080,
}


def zero_auth(client_id: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "brand_id": BRAND_ID,
        "currency": "ZAR",
        "products": [{"name": "Card Validation", "price": 0}],
        "success_redirect": "https://yoursite.com/validation/success",
        "failure_redirect": "https://yoursite.com/validation/failure",
        "force_recurring": True,
    }


def pre_auth(client_id: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "payment_method_whitelist": ["visa", "mastercard", "maestro"],
        "purchase": {
            "currency": "ZAR",
            "language": "en",
            "products": [{"name": "Hotel Reservation - 3 Nights", "price": 450000}],
        },
        "brand_id": BRAND_ID,
        "reference": "BOOKING-12345",
        "send_receipt": False,
        "force_recurring": True,
        "success_redirect": "https://yoursite.com/booking/success",
        "failure_redirect": "https://yoursite.com/booking/failure",
    }


def recurring(client_id: str, name: str, price: int, reference: str, **top: Any) -> dict:
    return {
        "client_id": client_id,
        "payment_method_whitelist": ["visa", "mastercard", "maestro"],
        "purchase": {
            "currency": "ZAR",
            "language": "en",
            "products": [{"name": name, "price": price}],
            "payment_method_details": {
                "card": {
                    "is_recurring": True,
                    "previous_network_transaction_id": "546464487987132",
                    "original_amount_cents": "10000",
                }
            },
        },
        "brand_id": BRAND_ID,
        "reference": reference,
        "send_receipt": False,
        "force_recurring": False,
        **top,
    }


def cit(client_id: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "payment_method_whitelist": ["visa", "mastercard", "maestro"],
        "purchase": {
            "currency": "ZAR",
            "language": "en",
            "products": [{"name": "Premium Subscription", "price": 29900}],
        },
        "brand_id": BRAND_ID,
        "reference": "ORDER-12345",
        "send_receipt": False,
        "force_recurring": True,
        "success_redirect": "https://yoursite.com/payment/success",
        "failure_redirect": "https://yoursite.com/payment/failure",
        "cancel_redirect": "https://yoursite.com/payment/cancel",
    }


def once_off(client_id: str, name: str, price: int, reference: str, card: dict | None) -> dict:
    purchase: dict[str, Any] = {
        "currency": "ZAR",
        "language": "en",
        "products": [{"name": name, "price": price}],
    }
    if card is not None:
        purchase["payment_method_details"] = {"card": card}
    return {
        "client_id": client_id,
        "payment_method_whitelist": ["visa", "mastercard", "maestro"],
        "purchase": purchase,
        "brand_id": BRAND_ID,
        "reference": reference,
        "send_receipt": False,
        "force_recurring": False,
        "success_redirect": "https://yoursite.com/success",
        "failure_redirect": "https://yoursite.com/failure",
    }


async def create(gw: Gateway, body: dict[str, Any]) -> dict[str, Any]:
    response = await gw.api("POST", "purchases/", body)
    assert response.status_code == 201, response.text
    return response.json()


async def guide_client(gw: Gateway) -> str:
    response = await gw.api("POST", "clients/", GUIDE_CLIENT)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_clients_crud_with_the_guides_body(gw: Gateway) -> None:
    response = await gw.api("POST", "clients/", GUIDE_CLIENT)
    assert response.status_code == 201
    client = response.json()
    assert {k: client[k] for k in GUIDE_CLIENT} == GUIDE_CLIENT
    assert {"id", "created_on", "updated_on"} <= client.keys()
    cid = client["id"]
    await gw.api("POST", "clients/", {"email": "other@example.com"})

    listed = (await gw.api("GET", "clients/", params={"email": "customer@example.com"})).json()
    assert [c["id"] for c in listed["results"]] == [cid]
    assert listed["next"] is None and listed["previous"] is None

    patched = (await gw.api("PATCH", f"clients/{cid}/", {"city": "Durban"})).json()
    assert (patched["city"], patched["email"]) == ("Durban", "customer@example.com")
    put = await gw.api("PUT", f"clients/{cid}/", {"email": "new@example.com"})
    assert put.json()["city"] == "" and put.json()["email"] == "new@example.com"
    assert (await gw.api("DELETE", f"clients/{cid}/")).status_code == 204
    assert (await gw.api("GET", f"clients/{cid}/")).status_code == 404


async def test_zero_auth_validates_and_tokenises_the_card(gw: Gateway) -> None:
    cid = await guide_client(gw)
    purchase = await create(gw, zero_auth(cid))
    assert purchase["purchase"]["total"] == 0
    assert purchase["direct_post_url"].endswith(f"/p/{purchase['id']}/")

    answer = await gw.submit(purchase, {**GUIDE_CARD_3DS, "card_number": "4111111111111111"})
    assert answer.json()["status"] == "authorized"
    after = await gw.get(purchase["id"])
    assert after["status"] == "preauthorized"
    assert after["recurring_token"] is None and after["is_recurring_token"] is True
    assert after["payment"] is None
    assert after["transaction_data"]["attempts"][0]["type"] == "authorize"
    tokens = (await gw.api("GET", f"clients/{cid}/recurring_tokens/")).json()["results"]
    assert [t["recurring_token"] for t in tokens] == [purchase["id"]]
    assert tokens[0]["masked_pan"] == "411111******1111" and tokens[0]["type"] == "card"
    assert_history_follows_table(after)


async def test_pre_auth_then_partial_capture(gw: Gateway) -> None:
    cid = await guide_client(gw)
    # The guide's body as is: accepted (without skip_capture CHIP would pay it at once).
    assert (await create(gw, pre_auth(cid)))["status"] == "created"

    purchase = await create(gw, {**pre_auth(cid), "skip_capture": True})
    answer = (await gw.submit(purchase, GUIDE_CARD_3DS)).json()
    assert answer["status"] == "3DS_required" and answer["md"] == answer["MD"]
    final = await gw.challenge(answer)
    assert final.status_code == 200 and final.json()["status"] == "hold"

    captured = await gw.api("POST", f"purchases/{purchase['id']}/capture/", {"amount": 400000})
    assert captured.status_code == 200, captured.text
    body = captured.json()
    assert body["status"] == "paid"
    assert body["payment"]["amount"] == 400000 and body["refundable_amount"] == 400000
    assert body["payment"]["fee_amount"] == 10000 and body["payment"]["net_amount"] == 390000
    assert [a["type"] for a in body["transaction_data"]["attempts"]] == ["capture", "authorize"]
    assert_history_follows_table(body)


async def test_full_capture_without_a_body(gw: Gateway) -> None:
    held = await gw.paid(skip_capture=True)
    response = await gw.http.post(f"/api/v1/purchases/{held['id']}/capture/", headers=API)
    assert response.status_code == 200
    assert response.json()["payment"]["amount"] == 29900


async def test_recurring_pre_auth_with_a_stored_card_and_cvc_000(gw: Gateway) -> None:
    cid = await guide_client(gw)
    body = recurring(cid, "Recurring Pre-Authorization", 500000, "PREAUTH-TOKEN-001")
    purchase = await create(gw, body)
    card = purchase["purchase"]["payment_method_details"]["card"]
    assert card["original_amount_cents"] == 10000  # the guide sends it as a string
    assert purchase["direct_post_url"]  # S2S-only: no redirects, but card details

    answer = await gw.submit(purchase, GUIDE_CARD_STORED)
    assert answer.status_code == 200 and answer.json()["status"] == "executed"

    held = await create(gw, {**body, "skip_capture": True})
    answer = await gw.submit(held, GUIDE_CARD_STORED)
    assert answer.json()["status"] == "authorized"
    assert (await gw.get(held["id"]))["status"] == "hold"


async def test_cit_with_3ds_challenge(gw: Gateway) -> None:
    cid = await guide_client(gw)
    purchase = await create(gw, cit(cid))
    answer = (await gw.submit(purchase, GUIDE_CARD_3DS)).json()
    assert answer["Method"] == "POST"
    assert answer["URL"] == f"http://testserver/acs/{answer['MD']}/"
    assert answer["callback_url"] == f"http://testserver/3ds/callback/{answer['MD']}/"
    assert (await gw.get(purchase["id"]))["status"] == "pending_execute"

    final = (await gw.challenge(answer)).json()
    assert final["id"] == purchase["id"] and final["status"] == "paid"
    card = final["payment_method_details"]["card"]
    assert card == {
        "brand": "visa",
        "last_4": "1091",
        "exp_month": 12,
        "exp_year": 2028,
        "token": purchase["id"],
        "network_transaction_id": card["network_transaction_id"],
    }
    after = await gw.get(purchase["id"])
    assert after["transaction_data"]["extra"]["masked_pan"] == "400000******1091"
    assert after["payment"]["fee_amount"] == 748 and after["payment"]["net_amount"] == 29152
    assert after["direct_post_url"] is None
    assert_history_follows_table(after)


async def test_external_3ds_is_never_challenged(gw: Gateway) -> None:
    cid = await guide_client(gw)
    ext = {
        "is_external_3DS": True,
        "authentication_transaction_id": "GAux5DosxbhI35RL8nc0",
        "cavv": "AAABBBCCCdddEEEfff111222333=",
        "xid": "xidTestValue",
        "eci_raw": "05",
    }
    purchase = await create(gw, once_off(cid, "Once off charge", 50000, "EXT3DS-ORDER-001", ext))
    answer = await gw.submit(purchase, GUIDE_CARD_EXT_3DS)
    assert answer.status_code == 200 and answer.json()["status"] == "executed"

    no_cavv = {k: v for k, v in ext.items() if k != "cavv"}
    purchase = await create(gw, once_off(cid, "Once off charge", 50000, "EXT-2", no_cavv))
    answer = await gw.submit(purchase, GUIDE_CARD_EXT_3DS)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "3ds_authentication_failed"

    await gw.sandbox("PUT", "config/", {"allow_external_3ds": False})
    purchase = await create(gw, once_off(cid, "Once off charge", 50000, "EXT-3", ext))
    answer = await gw.submit(purchase, GUIDE_CARD_EXT_3DS)
    assert answer.status_code == 400 and answer.json()["code"] == "s2s_not_supported"


async def test_network_token_without_card_fields(gw: Gateway) -> None:
    cid = await guide_client(gw)
    body = {
        "client_id": cid,
        "purchase": {
            "currency": "ZAR",
            "language": "en",
            "products": [{"name": "Network Token Purchase", "price": 25000}],
            "payment_method_details": {
                "card": {
                    "network_token": "4895370012341234",
                    "network_token_cryptogram": "AgAAAAAABk4DWZ4C28yUQAAAAAA=",
                    "token_requestor_id": "50110030273",
                    "is_recurring": True,
                }
            },
        },
        "brand_id": BRAND_ID,
        "reference": "NETWORK-TOKEN-001",
    }
    purchase = await create(gw, body)
    answer = await gw.submit(purchase, {"cardholder_name": "John Smith", "remote_ip": "8.8.8.8"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["payment_method_details"]["card"]["last_4"] == "1234"
    after = await gw.get(purchase["id"])
    assert after["status"] == "paid"
    assert after["transaction_data"]["extra"]["masked_pan"] == "489537******1234"
    # Used once, then kept only masked: the state (and its file) holds no token or cryptogram.
    state = b"".join(gw.app.sandbox.state.snapshot())
    assert b"4895370012341234" not in state and b"AgAAAAAABk4DWZ4C28yUQ" not in state


async def test_non_3ds_submission_without_a_browser_fingerprint(gw: Gateway) -> None:
    cid = await guide_client(gw)
    body = once_off(cid, "Frictionless charge", 5000, "FRICTIONLESS-001", None)
    purchase = await create(gw, body)
    answer = await gw.submit(purchase, GUIDE_CARD_STORED)  # the guide's 3DS card, no challenge
    assert answer.status_code == 200 and answer.json()["status"] == "executed"

    await gw.sandbox("PUT", "config/", {"allow_non_3ds": False})
    purchase = await create(gw, body)
    answer = await gw.submit(purchase, GUIDE_CARD_STORED)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "s2s_not_supported"
    after = await gw.get(purchase["id"])
    assert after["status"] == "created"  # refused before the network: still payable
    assert after["transaction_data"]["attempts"][0]["successful"] is False


async def test_mit_create_and_charge_with_the_recurring_token(gw: Gateway) -> None:
    cid = await guide_client(gw)
    first = await create(gw, cit(cid))
    await gw.challenge((await gw.submit(first, GUIDE_CARD_3DS)).json())

    mit = recurring(
        cid,
        "Monthly Subscription - February 2026",
        29900,
        "SUB-FEB-2026",
        success_redirect="https://yoursite.com/success",
        failure_redirect="https://yoursite.com/failure",
    )
    purchase = await create(gw, mit)
    charged = await gw.api(
        "POST", f"purchases/{purchase['id']}/charge/", {"recurring_token": first["id"]}
    )
    assert charged.status_code == 200, charged.text
    body = charged.json()
    assert body["status"] == "paid" and body["payment"]["amount"] == 29900
    assert body["transaction_data"]["attempts"][0]["type"] == "recurring_execute"
    assert body["recurring_token"] == first["id"] and body["is_recurring_token"] is False
    assert body["transaction_data"]["extra"]["masked_pan"] == "400000******1091"
    assert [h["status"] for h in body["status_history"]] == ["created", "pending_charge", "paid"]

    # The guide's alternative: the stored card submitted to the direct_post_url, cvc 000.
    again = await create(gw, mit)
    answer = await gw.submit(again, GUIDE_CARD_STORED)
    assert answer.json()["status"] == "executed"


async def test_cancel_a_capture_before_settlement(gw: Gateway) -> None:
    paid = await gw.paid()
    response = await gw.api("POST", f"purchases/{paid['id']}/cancel/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled" and isinstance(body["cancelled_on"], int)
    assert body["refundable_amount"] == 0
    assert_history_follows_table(body)


async def test_void_a_hold_with_cancel(gw: Gateway) -> None:
    held = await gw.paid(skip_capture=True)
    body = (await gw.api("POST", f"purchases/{held['id']}/cancel/")).json()
    assert body["status"] == "cancelled"


async def test_partial_refund_then_the_rest(gw: Gateway) -> None:
    paid = await gw.paid()
    response = await gw.api("POST", f"purchases/{paid['id']}/refund/", {"amount": 15000})
    assert response.status_code == 200
    refund = response.json()
    # CHIP's payment object (CONTRACT point 4): its own id, related to the purchase.
    assert refund["type"] == "payment" and refund["status"] == "success"
    assert refund["id"] != paid["id"]
    payment = refund["payment"]
    assert (payment["amount"], payment["currency"]) == (15000, "ZAR")
    assert payment["payment_type"] == "refund" and payment["is_outgoing"] is True
    assert refund["related_to"] == {
        "id": paid["id"],
        "type": "purchase",
        "reference": paid["reference"],
    }
    after = await gw.get(paid["id"])
    assert after["status"] == "paid" and after["refundable_amount"] == 14900

    rest = await gw.api("POST", f"purchases/{paid['id']}/refund/")
    assert rest.json()["payment"]["amount"] == 14900
    after = await gw.get(paid["id"])
    assert after["status"] == "refunded" and after["refundable_amount"] == 0
    assert_history_follows_table(after)


async def test_refund_cancel_before_settlement_only(gw: Gateway) -> None:
    paid = await gw.paid()
    refund = (await gw.api("POST", f"purchases/{paid['id']}/refund/", {"amount": 29900})).json()
    assert (await gw.get(paid["id"]))["status"] == "refunded"
    path = f"purchases/{paid['id']}/refund/{refund['id']}/cancel/"
    cancelled = await gw.api("POST", path)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    after = await gw.get(paid["id"])
    assert after["status"] == "paid" and after["refundable_amount"] == 29900
    assert (await gw.api("POST", path)).json()["__all__"][0]["code"] == "refund_cancel_error"

    late = (await gw.api("POST", f"purchases/{paid['id']}/refund/", {"amount": 100})).json()
    await gw.advance(DAY)
    response = await gw.api("POST", f"purchases/{paid['id']}/refund/{late['id']}/cancel/")
    assert response.status_code == 400
    assert response.json()["__all__"][0]["code"] == "refund_cancel_error"
    listed = (await gw.sandbox("GET", f"purchases/?reference={paid['reference']}")).json()
    statuses = {r["id"]: r["status"] for r in listed["results"][0]["refunds"]}
    assert statuses == {refund["id"]: "cancelled", late["id"]: "settled"}


async def test_an_inline_client_is_accepted(gw: Gateway) -> None:
    body = {
        "client": {"email": "inline@example.com", "full_name": "In Line"},
        "brand_id": BRAND_ID,
        "purchase": {"currency": "ZAR", "products": [{"name": "x", "price": 100, "quantity": 3}]},
    }
    purchase = await create(gw, body)
    assert purchase["client"]["email"] == "inline@example.com"
    assert purchase["purchase"]["total"] == 300
    assert (await gw.api("GET", f"clients/{purchase['client_id']}/")).status_code == 200
    assert purchase["direct_post_url"] is None  # no redirects and no card details


async def test_total_override_wins(gw: Gateway) -> None:
    purchase = await gw.purchase(details={"total_override": 1234})
    assert purchase["purchase"]["total"] == 1234
