"""Sandbox time: hold expiry per brand window, clearing and settlement, refund settlement."""

from __future__ import annotations

import pytest

from tests.unit.sandbox.conftest import DAY, Gateway, assert_history_follows_table

HOUR = 3600


@pytest.mark.parametrize(
    ("number", "days", "details"),
    [
        ("4111111111111111", 7, {}),
        ("4111111111111111", 5, {"payment_method_details": {"card": {"is_recurring": True}}}),
        ("5100000000000008", 30, {}),
        ("6767700000000005", 7, {}),
        ("378282246310005", 7, {}),
    ],
    ids=["visa", "visa-merchant-initiated", "mastercard", "maestro", "amex"],
)
async def test_a_hold_expires_at_the_end_of_its_brand_window(
    gw: Gateway, number: str, days: int, details: dict
) -> None:
    held = await gw.paid(number, skip_capture=True, details=details)
    assert held["status"] == "hold"
    await gw.advance(days * DAY - HOUR)
    assert (await gw.get(held["id"]))["status"] == "hold"
    await gw.advance(2 * HOUR)
    after = await gw.get(held["id"])
    assert after["status"] == "expired"
    assert after["status_history"][-1]["timestamp"] == held["updated_on"] + days * DAY
    assert_history_follows_table(after)
    response = await gw.api("POST", f"purchases/{held['id']}/capture/")
    assert response.json()["__all__"][0]["code"] == "purchase_capture_error"


async def test_a_zero_auth_preauthorisation_expires_too(gw: Gateway) -> None:
    verified = await gw.paid(price=0, force_recurring=True)
    assert verified["status"] == "preauthorized"
    await gw.advance(7 * DAY + 1)
    assert (await gw.get(verified["id"]))["status"] == "expired"


async def test_a_paid_purchase_clears_then_settles_staying_paid(gw: Gateway) -> None:
    """As the real platform (sample 07): status stays paid, settlement is in extra."""
    paid = await gw.paid()
    await gw.advance(DAY + 1)
    cleared = await gw.get(paid["id"])
    assert cleared["status"] == "paid" and "settlement" not in cleared["transaction_data"]["extra"]
    response = await gw.api("POST", f"purchases/{paid['id']}/cancel/")
    assert response.json()["__all__"][0]["code"] == "purchase_cancel_error"
    await gw.advance(DAY)
    settled = await gw.get(paid["id"])
    assert settled["status"] == "paid"
    settled_on = paid["payment"]["paid_on"] + 2 * DAY
    assert settled["transaction_data"]["extra"]["settlement"] == {"settled_on": settled_on}
    assert [h["status"] for h in settled["status_history"]][-1] == "paid"
    assert_history_follows_table(settled)

    refund = await gw.api("POST", f"purchases/{paid['id']}/refund/", {"amount": 1000})
    assert refund.status_code == 200
    assert (await gw.get(paid["id"]))["status"] == "paid"


async def test_one_big_advance_applies_every_step(gw: Gateway) -> None:
    paid = await gw.paid()
    held = await gw.paid(skip_capture=True)
    clock = await gw.advance(40 * DAY)
    assert clock["offset_seconds"] >= 40 * DAY
    settled = await gw.get(paid["id"])
    assert settled["status"] == "paid" and settled["transaction_data"]["extra"]["settlement"]
    assert (await gw.get(held["id"]))["status"] == "expired"


async def test_the_clock_route_reports_sandbox_time(gw: Gateway) -> None:
    before = (await gw.sandbox("GET", "clock/")).json()
    after = await gw.advance(DAY)
    assert after["offset_seconds"] == before["offset_seconds"] + DAY
    assert after["now"] - before["now"] >= DAY
    assert after["iso"].endswith("Z")
