"""The checkout form and the TermUrl's refusals: everything decided before a flow runs."""

from __future__ import annotations

import re

import pytest

from tests.web.support import stored_events

PAN = "4000000000000002"
GOOD = {
    "order_id": "web-form-test-1",
    "email": "shopper@example.com",
    "amount": "125.50",
    "product": "Blue mug",
    "mode": "cit",
    "cardholder_name": "Ada Shopper",
    "card_number": PAN,
    "expiry": "12/30",
    "cvc": "737",
}


async def test_the_form_has_every_field_and_a_fresh_order_reference(receiver):
    first = await receiver.get("/checkout")
    second = await receiver.get("/checkout")

    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    for name in ("email", "amount", "product", "mode", "cardholder_name", "card_number"):
        assert f'name="{name}"' in first.text
    assert 'name="expiry"' in first.text and 'name="cvc"' in first.text
    assert "<script" not in first.text
    refs = [re.search(r'name="order_id" value="([^"]+)"', r.text).group(1) for r in (first, second)]
    assert refs[0] != refs[1]


async def test_the_root_leads_to_the_checkout(receiver):
    response = await receiver.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/checkout"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("card_number", "4000000000000003", "card number is not valid"),  # Luhn fails
        ("card_number", "4000 0000 0000 00", "card number is not valid"),
        ("expiry", "13/30", "Expiry must be MM/YY"),
        ("expiry", "2030-12", "Expiry must be MM/YY"),
        ("cvc", "12", "CVC must be 3 or 4 digits"),
        ("cardholder_name", "", "name on the card"),
        ("amount", "12.345", "amount is not valid"),
        ("amount", "abc", "amount is not valid"),
        ("amount", "0", "more than zero"),
        ("email", "not-an-email", "valid email"),
        ("mode", "steal", "pay now or to authorise"),
        ("order_id", "../../etc", "order reference"),
    ],
)
async def test_a_malformed_form_comes_back_with_a_message_and_without_the_card(
    receiver, engine, caplog, field, value, message
):
    form = {**GOOD, field: value}

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

    response = await receiver.post("/checkout", data=GOOD)

    assert response.status_code == 422
    assert "is not accepted for this brand" in response.text
    assert PAN not in response.text and "[redacted]" in response.text
    assert 'name="order_id" value="web-form-test-1"' in response.text  # nothing moved: same order
    # The flow got a one-time reference, never the card; it is gone once the request is over.
    (ref,) = seen
    assert ref.startswith("cardref_") and PAN not in ref
    with pytest.raises(LookupError):
        default_vault.get(ref)
    assert PAN not in caplog.text
