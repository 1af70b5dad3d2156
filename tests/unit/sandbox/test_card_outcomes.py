"""Each test card does what docs/test-cards.md says, CIT and MIT.

The expectations are written out here, independently of the table in ``cards.py``.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.sandbox.conftest import FINGERPRINT, Gateway, card_body

# number: (CIT outcome, decline code, network code, advice code)
CIT = {
    "4111111111111111": ("executed", None, None, None),
    "4000000000000002": ("3DS_required", None, None, None),
    "4000000000000010": ("executed", None, None, None),
    "4000000000000028": ("error", "insufficient_funds", "51", None),
    "4000000000000036": ("error", "do_not_honour", "05", None),
    "4000000000000044": ("error", "expired_card", "54", None),
    "4000000000000051": ("error", "authorization_failed", "43", None),
    "4000000000000069": ("error", "3ds_authentication_failed", None, None),
    "4000000000000077": ("executed", None, None, None),
    "4000000000000085": ("executed", None, None, None),
    "4000000000000093": ("executed", None, None, None),
    "5100000000000008": ("executed", None, None, None),
    "5100000000000016": ("executed", None, None, None),
    "5100000000000024": ("executed", None, None, None),
    "6767700000000005": ("executed", None, None, None),
    "378282246310005": ("executed", None, None, None),
    "4444333322221111": ("executed", None, None, None),
    "5555555555554444": ("3DS_required", None, None, None),
    "4000000000001091": ("3DS_required", None, None, None),
}
# number: (decline code, network code, advice code) of a /charge/, or None when approved
MIT = {
    "4111111111111111": None,
    "4000000000000002": None,
    "4000000000000010": None,
    "4000000000000077": None,
    "4000000000000085": ("insufficient_funds", "51", None),
    "4000000000000093": ("authorization_failed", "R1", None),
    "5100000000000008": None,
    "5100000000000016": ("insufficient_funds", "51", "24"),
    "5100000000000024": ("do_not_honour", "05", "21"),
    "6767700000000005": None,
    "378282246310005": None,
    "4444333322221111": None,
    "5555555555554444": None,
    "4000000000001091": None,
}


@pytest.mark.parametrize("number", list(CIT))
async def test_cit_outcome(gw: Gateway, number: str) -> None:
    status, code, network, advice = CIT[number]
    purchase = await gw.purchase()
    answer = await gw.submit(purchase, card_body(number, **FINGERPRINT))
    body = answer.json()
    assert body["status"] == status, body
    after = await gw.get(purchase["id"])
    if status == "executed":
        assert answer.status_code == 200 and after["status"] == "paid"
    elif status == "3DS_required":
        assert after["status"] == "pending_execute"
    else:
        assert answer.status_code == 400
        expected = {"code": code, "message": body["error"]["message"]}
        if network:
            expected["network_code"] = network
        if advice:
            expected["advice_code"] = advice
        assert body["error"] == expected and body["code"] == code
        assert after["status"] == "error"
        assert after["transaction_data"]["attempts"][0]["error"] == expected


@pytest.mark.parametrize("number", list(MIT))
async def test_mit_charge_outcome(gw: Gateway, number: str) -> None:
    first = await gw.purchase(force_recurring=True)
    answer = (await gw.submit(first, card_body(number, **FINGERPRINT))).json()
    if answer["status"] == "3DS_required":
        assert (await gw.challenge(answer)).status_code == 200
    saved = await gw.get(first["id"])
    # The card-saving purchase IS the token: its own id, and recurring_token null.
    assert saved["is_recurring_token"] is True and saved["recurring_token"] is None

    purchase = await gw.purchase(client_id=first["client_id"])
    response = await gw.api(
        "POST", f"purchases/{purchase['id']}/charge/", {"recurring_token": first["id"]}
    )
    expected = MIT[number]
    after = await gw.get(purchase["id"])
    assert after["recurring_token"] == first["id"]  # the token that paid it
    if expected is None:
        assert response.status_code == 200 and after["status"] == "paid"
        return
    code, network, advice = expected
    assert response.status_code == 400
    errors = response.json()["__all__"]
    assert errors[0]["code"] == "purchase_charge_error"
    assert errors[1]["code"] == code
    assert errors[1].get("network_code") == network and errors[1].get("advice_code") == advice
    assert after["status"] == "error"
    assert after["transaction_data"]["attempts"][0]["type"] == "recurring_execute"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("4000000000000028", "insufficient_funds"),
        ("4000000000000036", "do_not_honour"),
        ("4000000000000044", "expired_card"),
        ("4000000000000051", "authorization_failed"),
    ],
)
async def test_declining_cards_decline_stored_credential_use_the_same(
    gw: Gateway, number: str, code: str
) -> None:
    details = {"payment_method_details": {"card": {"is_recurring": True}}}
    purchase = await gw.purchase(details=details)
    answer = await gw.submit(purchase, card_body(number, cvc="000"))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == code


async def test_without_fingerprint_a_challenge_card_pays_without_3ds(gw: Gateway) -> None:
    for number in ("4000000000000002", "4000000000000069", "5555555555554444"):
        purchase = await gw.purchase()
        answer = await gw.submit(purchase, card_body(number))
        assert answer.json()["status"] == "executed", number


async def test_always_times_out_card_commits_then_answers_late(gw: Gateway) -> None:
    purchase = await gw.purchase()
    await gw.sandbox("PUT", "config/", {"timeout_seconds": 5})
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            gw.submit(purchase, card_body("4000000000000077", **FINGERPRINT)), 0.2
        )
    assert (await gw.get(purchase["id"]))["status"] == "paid"  # committed all the same

    await gw.sandbox("PUT", "config/", {"timeout_seconds": 0.05})
    first = await gw.purchase(force_recurring=True)
    answer = await gw.submit(first, card_body("4000000000000077", **FINGERPRINT))
    assert answer.json()["status"] == "executed"  # patient enough: the answer does come
    second = await gw.purchase()
    started = asyncio.get_running_loop().time()
    charged = await gw.api(
        "POST", f"purchases/{second['id']}/charge/", {"recurring_token": first["id"]}
    )
    assert asyncio.get_running_loop().time() - started >= 0.05
    assert charged.status_code == 200 and charged.json()["status"] == "paid"
