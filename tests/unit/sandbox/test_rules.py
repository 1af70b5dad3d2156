"""What the sandbox refuses, and in which shape (docs/gateway-wire.md, "Errors")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.sandbox.conftest import (
    API,
    BRAND_ID,
    FINGERPRINT,
    S2S,
    Gateway,
    assert_history_follows_table,
    card_body,
)


def assert_field_keyed(body: dict[str, Any]) -> None:
    assert body, "an error body names at least one field"
    for field, items in body.items():
        assert isinstance(field, str) and isinstance(items, list) and items
        for item in items:
            assert isinstance(item["message"], str) and isinstance(item["code"], str)


def error_code(response: Any, field: str = "__all__") -> str:
    assert response.status_code == 400, response.text
    assert_field_keyed(response.json())
    return response.json()[field][0]["code"]


async def test_capture_more_than_authorised_is_refused(gw: Gateway) -> None:
    held = await gw.paid(skip_capture=True)
    response = await gw.api("POST", f"purchases/{held['id']}/capture/", {"amount": 29901})
    assert error_code(response, "amount") == "purchase_capture_error"
    for amount in (0, -5, "100", 1.5):
        response = await gw.api("POST", f"purchases/{held['id']}/capture/", {"amount": amount})
        assert error_code(response, "amount") == "purchase_capture_error"
    assert (await gw.get(held["id"]))["status"] == "hold"


async def test_capture_of_anything_but_a_hold_is_refused(gw: Gateway) -> None:
    paid = await gw.paid()
    response = await gw.api("POST", f"purchases/{paid['id']}/capture/")
    assert error_code(response) == "purchase_capture_error"


async def test_refund_more_than_refundable_is_refused(gw: Gateway) -> None:
    paid = await gw.paid()
    await gw.api("POST", f"purchases/{paid['id']}/refund/", {"amount": 20000})
    response = await gw.api("POST", f"purchases/{paid['id']}/refund/", {"amount": 9901})
    assert error_code(response, "amount") == "purchase_refund_error"
    assert (await gw.get(paid["id"]))["refundable_amount"] == 9900


async def test_refund_of_a_hold_or_unpaid_purchase_is_refused(gw: Gateway) -> None:
    held = await gw.paid(skip_capture=True)
    response = await gw.api("POST", f"purchases/{held['id']}/refund/")
    assert error_code(response) == "purchase_refund_error"
    created = await gw.purchase()
    response = await gw.api("POST", f"purchases/{created['id']}/refund/")
    assert error_code(response) == "purchase_refund_error"


async def test_release_and_cancel_refuse_what_the_table_refuses(gw: Gateway) -> None:
    paid = await gw.paid()
    response = await gw.api("POST", f"purchases/{paid['id']}/release/")
    assert error_code(response) == "purchase_release_error"
    await gw.api("POST", f"purchases/{paid['id']}/refund/")
    response = await gw.api("POST", f"purchases/{paid['id']}/cancel/")
    assert error_code(response) == "purchase_cancel_error"


async def test_charge_of_a_paid_purchase_is_refused(gw: Gateway) -> None:
    token = await gw.paid(force_recurring=True)
    target = await gw.purchase()
    ok = await gw.api("POST", f"purchases/{target['id']}/charge/", {"recurring_token": token["id"]})
    assert ok.status_code == 200
    again = await gw.api(
        "POST", f"purchases/{target['id']}/charge/", {"recurring_token": token["id"]}
    )
    assert error_code(again) == "purchase_charge_error"
    itself = await gw.api(
        "POST", f"purchases/{token['id']}/charge/", {"recurring_token": token["id"]}
    )
    assert error_code(itself) == "purchase_charge_error"
    history = [h["status"] for h in (await gw.get(target["id"]))["status_history"]]
    assert history == ["created", "pending_charge", "paid"]


async def test_bad_recurring_tokens(gw: Gateway) -> None:
    target = await gw.purchase()
    not_stored = await gw.paid()  # neither force_recurring nor remember_card=on
    created = await gw.purchase(force_recurring=True)  # never paid
    for token in ("no-such-purchase", not_stored["id"], created["id"]):
        response = await gw.api(
            "POST", f"purchases/{target['id']}/charge/", {"recurring_token": token}
        )
        assert error_code(response, "recurring_token") == "invalid_recurring_token"
    response = await gw.api("POST", f"purchases/{target['id']}/charge/", {})
    assert error_code(response, "recurring_token") == "required"

    remembered = await gw.purchase()
    answer = await gw.submit(
        remembered, card_body("4111111111111111", remember_card="on", **FINGERPRINT)
    )
    assert answer.json()["payment_method_details"]["card"]["token"] == remembered["id"]
    deleted = await gw.api("POST", f"purchases/{remembered['id']}/delete_recurring_token/")
    assert deleted.status_code == 200
    assert deleted.json()["recurring_token"] is None and not deleted.json()["is_recurring_token"]
    response = await gw.api(
        "POST", f"purchases/{target['id']}/charge/", {"recurring_token": remembered["id"]}
    )
    assert error_code(response, "recurring_token") == "invalid_recurring_token"
    assert (await gw.get(target["id"]))["status"] == "created"
    again = await gw.api("POST", f"purchases/{remembered['id']}/delete_recurring_token/")
    assert error_code(again) == "invalid_recurring_token"


async def test_a_declined_purchase_is_payable_again(gw: Gateway) -> None:
    purchase = await gw.purchase()
    declined = await gw.submit(purchase, card_body("4000000000000028", **FINGERPRINT))
    assert declined.status_code == 400
    after = await gw.get(purchase["id"])
    assert after["status"] == "error" and after["direct_post_url"]
    answer = await gw.submit(after, card_body("4111111111111111", **FINGERPRINT))
    assert answer.json()["status"] == "executed"
    final = await gw.get(purchase["id"])
    assert [a["successful"] for a in final["transaction_data"]["attempts"]] == [True, False]
    assert_history_follows_table(final)


async def test_a_paid_purchase_takes_no_second_card(gw: Gateway) -> None:
    paid = await gw.purchase()
    await gw.submit(paid, card_body("4111111111111111", **FINGERPRINT))
    again = await gw.submit(paid, card_body("4111111111111111", **FINGERPRINT))
    assert again.status_code == 400 and again.json()["status"] == "error"
    assert again.json()["code"] == "purchase_execute_error"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (card_body("4242424242424242"), "validation_card_number_invalid"),
        (card_body("4111111111111111", expires="01/20"), "validation_expires_invalid"),
        (card_body("4111111111111111", expires="tomorrow"), "validation_expires_invalid"),
        (card_body("4444333322221111", cvc="999"), "validation_cvc_invalid"),
        (card_body("4111111111111111", cvc="1"), "validation_cvc_invalid"),
        (card_body("378282246310005"), "validation_card_number_invalid"),  # not whitelisted
    ],
)
async def test_card_validation_failures(gw: Gateway, body: dict, code: str) -> None:
    purchase = await gw.purchase(payment_method_whitelist=["visa", "mastercard", "maestro"])
    response = await gw.submit(purchase, {**body, **FINGERPRINT})
    assert response.status_code == 400
    answer = response.json()
    assert answer["status"] == "error" and answer["error"]["code"] == code == answer["code"]
    assert (await gw.get(purchase["id"]))["status"] == "created"


async def test_expiry_is_judged_against_the_sandbox_clock(gw: Gateway) -> None:
    clock = (await gw.sandbox("GET", "clock/")).json()
    year = int(clock["iso"][2:4])
    purchase = await gw.purchase()
    body = card_body("4111111111111111", expires=f"12/{year:02d}", **FINGERPRINT)
    await gw.advance(366 * 86_400)
    response = await gw.submit(purchase, body)
    assert response.json()["code"] == "validation_expires_invalid"


async def test_keys_per_route(gw: Gateway) -> None:
    purchase = await gw.purchase()
    pid = purchase["id"]
    assert (await gw.http.get(f"/api/v1/purchases/{pid}/", headers=S2S)).status_code == 401
    response = await gw.http.get(f"/api/v1/purchases/{pid}/")
    assert response.status_code == 401 and response.json() == {"detail": "Invalid API key"}
    wrong = {"Authorization": "Bearer nope"}
    assert (await gw.http.get("/api/v1/clients/", headers=wrong)).status_code == 401
    card = card_body("4111111111111111")
    response = await gw.http.post(f"/p/{pid}/?s2s=true", json=card, headers=API)
    assert response.status_code == 401
    assert (await gw.http.get("/_sandbox/clock/", headers=S2S)).status_code == 401
    assert (await gw.http.get("/_sandbox/clock/")).status_code == 401
    assert (await gw.http.get("/api/v1/public_key/", headers=S2S)).status_code == 401
    assert (await gw.http.post(f"/p/{pid}/?s2s=true", json=card, headers=S2S)).status_code == 200
    assert (await gw.get(pid))["status"] == "paid"


async def test_not_found_and_method_not_allowed(gw: Gateway) -> None:
    nothing = {"detail": "No such object"}
    for path in ("purchases/nope/", "clients/nope/", "webhooks/nope/", "no/such/route/"):
        response = await gw.api("GET", path)
        assert (response.status_code, response.json()) == (404, nothing), path
    assert (await gw.api("POST", "purchases/nope/capture/")).status_code == 404
    assert (await gw.http.post("/p/nope/?s2s=true", json={}, headers=S2S)).status_code == 404
    paid = await gw.paid()
    response = await gw.api("POST", f"purchases/{paid['id']}/refund/nope/cancel/")
    assert (response.status_code, response.json()) == (404, nothing)
    assert (await gw.api("DELETE", "purchases/")).status_code == 405


ONE = {"name": "x", "price": 1}
NEGATIVE = {"name": "x", "price": -1}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"brand_id": None}, "brand_id"),
        ({"brand_id": "409eb80e-3782-4b1d-afa8-b779759266a5"}, "brand_id"),
        ({"client_id": "nope"}, "client_id"),
        ({"client_id": None}, "client"),
        ({"purchase": {"currency": "ZAR", "products": []}}, "purchase.products"),
        ({"purchase": {"currency": "rands", "products": [ONE]}}, "purchase.currency"),
        ({"purchase": {"currency": "ZAR", "products": [NEGATIVE]}}, "purchase.products.0.price"),
        ({"purchase": {"currency": "ZAR", "products": [{"price": 1}]}}, "purchase.products.0.name"),
        ({"skip_capture": "yes"}, "skip_capture"),
        ({"reference": "x" * 129}, "reference"),
    ],
)  # fmt: skip
async def test_purchase_validation_errors_are_field_keyed(
    gw: Gateway, change: dict, field: str
) -> None:
    body: dict[str, Any] = {
        "client_id": await gw.client(),
        "brand_id": BRAND_ID,
        "purchase": {"currency": "ZAR", "products": [{"name": "x", "price": 100}]},
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = await gw.api("POST", "purchases/", body)
    assert response.status_code == 400
    assert_field_keyed(response.json())
    assert field in response.json(), response.json()


async def test_malformed_bodies(gw: Gateway) -> None:
    response = await gw.http.post("/api/v1/purchases/", content=b"{nope", headers=API)
    assert error_code(response) == "invalid"
    response = await gw.api("POST", "clients/", [1, 2])
    assert error_code(response) == "invalid"
    response = await gw.api("POST", "clients/", {"email": "no-at-sign"})
    assert error_code(response, "email") == "invalid"
    response = await gw.api("POST", "clients/", {"phone": "1"})
    assert error_code(response, "email") == "required"
    purchase = await gw.purchase()
    response = await gw.http.post(f"/p/{purchase['id']}/", json={}, headers=S2S)
    assert error_code(response, "s2s") == "required"


async def test_webhooks_crud(gw: Gateway) -> None:
    body = {"title": "ledger", "all_events": False, "events": ["purchase.paid"],
            "callback": "http://127.0.0.1:9/hook"}  # fmt: skip
    created = await gw.api("POST", "webhooks/", body)
    assert created.status_code == 201
    hook = created.json()
    assert hook["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert {k: hook[k] for k in body} == body
    listed = (await gw.api("GET", "webhooks/")).json()["results"]
    assert [h["id"] for h in listed] == [hook["id"]]
    patched = (await gw.api("PATCH", f"webhooks/{hook['id']}/", {"all_events": True})).json()
    assert patched["all_events"] is True and patched["events"] == ["purchase.paid"]
    assert patched["public_key"] == hook["public_key"]
    bad = await gw.api("POST", "webhooks/", {"callback": "ftp://x"})
    assert error_code(bad, "callback") == "invalid"
    assert (await gw.api("DELETE", f"webhooks/{hook['id']}/")).status_code == 204
    assert (await gw.api("GET", f"webhooks/{hook['id']}/")).status_code == 404


async def test_public_key_is_a_json_pem_string(gw: Gateway) -> None:
    response = await gw.api("GET", "public_key/")
    assert response.status_code == 200
    assert response.json().startswith("-----BEGIN PUBLIC KEY-----")
    assert (await gw.api("GET", "public_key/")).json() == response.json()


async def test_sandbox_switches_and_faults_validation(gw: Gateway) -> None:
    config = (await gw.sandbox("GET", "config/")).json()
    assert config == {"allow_non_3ds": True, "allow_external_3ds": True, "timeout_seconds": 0.05}
    bad = await gw.sandbox("PUT", "config/", {"allow_non_3ds": "no", "colour": 1})
    assert set(bad.json()) == {"allow_non_3ds", "colour"}
    response = await gw.sandbox("PUT", "faults/", {"rules": [{"route": "GET /x/", "kind": "?"}]})
    assert error_code(response, "rules") == "invalid"
    rule = {"route": "POST /api/v1/purchases/*/charge/", "kind": "error_5xx", "rate": 1.0}
    response = await gw.sandbox("PUT", "faults/", {"rules": [rule]})
    assert response.status_code == 200 and len(response.json()["rules"]) == 1
    faulted = await gw.api("POST", "purchases/x/charge/", {"recurring_token": "y"})
    assert faulted.status_code == 503
    assert (await gw.sandbox("DELETE", "faults/")).json() == {"rules": []}
    assert (await gw.sandbox("GET", "faults/")).json() == {"rules": []}
    advance = await gw.sandbox("POST", "clock/advance/", {"seconds": -1})
    assert error_code(advance, "seconds") == "invalid"
