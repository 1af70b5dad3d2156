"""The checkout form and the TermUrl's refusals: everything decided before a flow runs."""

from __future__ import annotations

import re

import pytest

from tests.web.support import open_checkout, order_token, stored_events

PAN = "4000000000000002"
CARD = {
    "email": "shopper@example.com",
    "cardholder_name": "Ada Shopper",
    "card_number": PAN,
    "expiry": "12/30",
    "cvc": "737",
}


async def good_form(receiver, order_id: str = "web-form-test-1") -> dict[str, str]:
    hidden = await open_checkout(receiver, order_token(order_id))
    return {**hidden, **CARD}


async def test_the_form_shows_the_signed_order_and_has_every_card_field(receiver):
    response = await receiver.get("/checkout", params={"order": order_token("web-show-1")})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    for name in ("email", "cardholder_name", "card_number", "expiry", "cvc", "csrf_token"):
        assert f'name="{name}"' in response.text
    # The amount and the product are the shop's: shown, never asked for.
    assert 'name="amount"' not in response.text and 'name="product"' not in response.text
    assert "R 125.50" in response.text and "Blue mug" in response.text
    assert "<script" not in response.text


async def test_the_sandbox_gives_a_fresh_demo_order_without_a_token(receiver):
    first = await receiver.get("/checkout")
    second = await receiver.get("/checkout")
    refs = [re.search(r'id="order-id">([^<]+)<', r.text).group(1) for r in (first, second)]
    assert refs[0] != refs[1] and "R 49.99" in first.text


async def test_the_root_leads_to_the_checkout(receiver):
    response = await receiver.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/checkout"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("card_number", "4000000000000003", "card number is not valid"),  # Luhn fails
        ("card_number", "4000 0000 0000 00", "card number is not valid"),
        ("card_number", "٤٠٠٠٠٠٠٠٠٠٠٠٠٠٠٢", "card number is not valid"),
        ("expiry", "13/30", "Expiry must be MM/YY"),
        ("expiry", "2030-12", "Expiry must be MM/YY"),
        ("cvc", "12", "CVC must be 3 or 4 digits"),
        ("cardholder_name", "", "name on the card"),
        ("email", "not-an-email", "valid email"),
    ],
)
async def test_a_malformed_form_comes_back_with_a_message_and_without_the_card(
    receiver, engine, caplog, field, value, message
):
    form = {**await good_form(receiver), field: value}

    response = await receiver.post("/checkout", data=form)

    assert response.status_code == 422
    assert message in response.text
    # What the shopper typed into card fields is never repeated, in the page or the logs.
    for secret in (PAN, form["card_number"].replace(" ", ""), "737", "12/30"):
        if secret:
            assert secret not in response.text
            assert secret not in caplog.text
    if field != "email":
        assert 'value="shopper@example.com"' in response.text  # the rest is kept
    assert stored_events(engine) == []


async def test_the_term_url_needs_md_and_pares(receiver):
    response = await receiver.post("/3ds/return", data={"MD": "abc"})
    assert response.status_code == 400
    assert "did not send the verification result" in response.text


async def test_the_term_url_refuses_an_unknown_md(receiver):
    response = await receiver.post("/3ds/return", data={"MD": "no-such-md", "PaRes": "x"})
    assert response.status_code == 400
    assert "unknown or has expired" in response.text


async def test_a_refused_payment_shows_the_form_again_with_the_reason(
    receiver, monkeypatch, caplog
):
    from apps.web import _flows
    from payflows.vault import default_vault

    seen: list[str] = []

    async def refuse(**kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs["card_ref"])
        raise _flows.Rejected(f"gateway says card {PAN} is not accepted for this brand")

    monkeypatch.setattr(_flows, "checkout", refuse)

    form = await good_form(receiver)
    response = await receiver.post("/checkout", data=form)

    assert response.status_code == 422
    assert "is not accepted for this brand" in response.text
    assert PAN not in response.text and "[digits hidden]" in response.text
    assert f'name="order" value="{form["order"]}"' in response.text  # nothing moved: same order
    # The flow got a one-time reference, never the card; it is gone once the request is over.
    (ref,) = seen
    assert ref.startswith("cardref_") and PAN not in ref
    with pytest.raises(LookupError):
        default_vault.get(ref)
    assert PAN not in caplog.text
