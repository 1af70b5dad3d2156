"""Tokens migrated from another processor: the sandbox learns them by test-card name."""

from __future__ import annotations

from tests.unit.sandbox.conftest import Gateway


async def _charge(gw: Gateway, token: str) -> tuple[int, dict]:
    purchase = await gw.purchase(price=19900, reference="MIG-1")
    response = await gw.api(
        "POST", f"purchases/{purchase['id']}/charge/", {"recurring_token": token}
    )
    return response.status_code, response.json()


async def test_an_imported_token_charges_as_its_test_card_does(gw: Gateway) -> None:
    response = await gw.sandbox(
        "PUT", "recurring_tokens/tok_migrated_1/", {"card": "visa_approved"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["masked_pan"] == "411111******1111"

    status, body = await _charge(gw, "tok_migrated_1")

    assert status == 200, body
    assert body["status"] == "paid"
    assert body["transaction_data"]["extra"]["masked_pan"] == "411111******1111"


async def test_an_imported_token_of_a_declining_card_declines_its_charges(gw: Gateway) -> None:
    await gw.sandbox("PUT", "recurring_tokens/tok_mc/", {"card": "mastercard_mit_retry_later"})

    status, body = await _charge(gw, "tok_mc")

    assert status == 400
    codes = [error["code"] for error in body["__all__"]]
    assert "purchase_charge_error" in codes


async def test_importing_again_keeps_the_first_token(gw: Gateway) -> None:
    first = await gw.sandbox("PUT", "recurring_tokens/tok_twice/", {"card": "visa_approved"})
    again = await gw.sandbox("PUT", "recurring_tokens/tok_twice/", {"card": "mastercard_approved"})

    assert again.json() == first.json()


async def test_a_card_number_or_unknown_name_is_refused(gw: Gateway) -> None:
    number = await gw.sandbox("PUT", "recurring_tokens/tok_x/", {"card": "4111111111111111"})
    missing = await gw.sandbox("PUT", "recurring_tokens/tok_y/", {})

    assert number.status_code == 400 and "card" in number.json()
    assert missing.status_code == 400 and "card" in missing.json()
    status, _ = await _charge(gw, "tok_x")
    assert status == 400


async def test_unknown_tokens_are_still_refused(gw: Gateway) -> None:
    status, body = await _charge(gw, "tok_never_imported")

    assert status == 400
    assert body["recurring_token"][0]["code"] == "invalid_recurring_token"
