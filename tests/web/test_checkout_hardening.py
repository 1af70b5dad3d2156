"""Issue 15: the checkout is not a card-testing tool and no input makes it answer 5xx.

The payment flow is replaced by a recorder (``flow``): these tests are about what reaches it,
and what never does. The end-to-end payments are in test_checkout_flows.py.
"""

from __future__ import annotations

import pytest

from apps.web import create_web_app
from apps.web.guard import InvalidOrder, LedgerFailureLimiter, Order, OrderSigner
from flows import PaymentResult
from payflows.ledger import AttemptKind, UnitOfWork, record_intent
from payflows.ledger.models import AttemptState
from tests.web.conftest import MERCHANT
from tests.web.support import CHECKOUT_SECRET, open_checkout, order_token

PAN = "4111111111111111"
DECLINED = "4000000000000028"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def shop(settings, registered, clock, engine):  # type: ignore[no-untyped-def]
    """The web app with a failure limiter of 5 in 15 minutes on a clock the test moves."""
    import httpx
    from asgi_lifespan import LifespanManager

    limiter = LedgerFailureLimiter(engine, 5, 900, clock=clock)
    app = create_web_app(settings, limiter=limiter)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
            yield client


@pytest.fixture
def flow(monkeypatch):  # type: ignore[no-untyped-def]
    """The checkout flow, recorded: declines a card ending 0028, pays any other."""
    from apps.web import _flows
    from payflows.vault import default_vault

    calls: list[dict] = []

    async def checkout(**kwargs):  # type: ignore[no-untyped-def]
        card = default_vault.get(kwargs["card_ref"])
        calls.append({**kwargs, "last_4": card.last_4})
        declined = card.last_4 == "0028"
        return PaymentResult(
            flow="customer-initiated-payment",
            business_key=f"cit:{kwargs['order_id']}",
            state=AttemptState.DECLINED if declined else AttemptState.SUCCEEDED,
            purchase_status="error" if declined else "paid",
            amount_cents=kwargs["amount_cents"],
            currency=kwargs["currency"],
            decline_code="insufficient_funds" if declined else None,
        )

    monkeypatch.setattr(_flows, "checkout", checkout)
    return calls


async def pay(client, order_id: str, card: str = PAN, **changes):  # type: ignore[no-untyped-def]
    hidden = await open_checkout(client, order_token(order_id))
    form = {
        **hidden,
        "email": "ada@example.com",
        "cardholder_name": "Ada Shopper",
        "card_number": card,
        "expiry": "12/30",
        "cvc": "737",
        **changes,
    }
    return await client.post("/checkout", data=form)


# -- card numbers in the wrong field ---------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cardholder_name", "4111 1111 1111 1111"),
        ("cardholder_name", "Ada 4111.1111.1111.1111"),
        ("email", f"{PAN}@example.com"),
        ("email", "ada_4111_1111_1111_1111@example.com"),
        ("note", "4111 - 1111 - 1111 - 1111"),
    ],
)
async def test_a_card_number_in_a_non_card_field_is_refused_and_not_shown_back(
    shop, flow, caplog, field, value
):
    response = await pay(shop, "web-pan-in-field", **{field: value})

    assert response.status_code == 422
    assert "looks like a card number" in response.text
    digits = "".join(c for c in response.text if c.isdigit())
    assert PAN not in digits and value not in response.text
    assert flow == []  # never reached the vault's consumer, a flow or the gateway
    assert PAN not in "".join(c for c in caplog.text if c.isdigit())


async def test_an_order_id_or_product_with_a_card_number_cannot_be_signed():
    signer = OrderSigner(CHECKOUT_SECRET)
    with pytest.raises(InvalidOrder):
        signer.sign(Order("web-4111111111111111", 100, "ZAR", "Mug"))
    with pytest.raises(InvalidOrder):
        signer.sign(Order("web-order-1", 100, "ZAR", "Mug 4111-1111-1111-1111"))


# -- the amount is the shop's ----------------------------------------------------------------


async def test_the_amount_and_product_come_from_the_signed_order(shop, flow):
    response = await pay(shop, "web-amount-1", amount="0.01", product="Free", mode="preauth")

    assert response.status_code == 200 and "Payment successful" in response.text
    (call,) = flow
    assert (call["amount_cents"], call["product"], call["mode"]) == (12550, "Blue mug", "cit")


@pytest.mark.parametrize(
    "order",
    [
        "",
        "garbage",
        "a.b",
        order_token("web-tampered")[:-2] + "xx",
        OrderSigner("another-shop-secret-0123456789").sign(Order("web-other", 100, "ZAR", "Mug")),
    ],
)
async def test_a_missing_forged_or_tampered_order_is_refused(shop, flow, order):
    hidden = await open_checkout(shop, order_token("web-real-order"))
    form = {**hidden, "order": order, "email": "a@example.com", "cardholder_name": "A"}
    response = await shop.post("/checkout", data={**form, "card_number": PAN, "cvc": "737"})
    assert response.status_code == 400 and "No order to pay" in response.text
    assert flow == []


async def test_an_expired_or_out_of_range_order_is_refused(clock):
    signer = OrderSigner(CHECKOUT_SECRET, clock=clock)
    token = signer.sign(Order("web-expiring", 100, "ZAR", "Mug"), valid_seconds=60)
    assert signer.verify(token).amount_cents == 100
    clock.now += 61
    with pytest.raises(InvalidOrder, match="expired"):
        signer.verify(token)
    for amount in (0, -1, 10**30, 2**63):
        with pytest.raises(InvalidOrder):
            signer.sign(Order("web-huge", amount, "ZAR", "Mug"))
    with pytest.raises(InvalidOrder):
        signer.sign(Order("web-xyz", 100, "XYZ", "Mug"))


async def test_a_correctly_signed_but_malformed_order_is_a_400_not_a_500(shop, flow):
    import base64
    import json

    signer = OrderSigner(CHECKOUT_SECRET)
    for data in (
        {"order_id": "web-huge-1", "amount_cents": 10**30, "currency": "ZAR", "product": "M"},
        # 12 digits of cents: past what the payment flow's form takes (never a card's length).
        {"order_id": "web-huge-2", "amount_cents": 10**11, "currency": "VND", "product": "M"},
        {"order_id": "web-bad-1", "amount_cents": "1", "currency": "ZAR", "product": "M"},
        {"unexpected": 1},
        [1, 2],
    ):
        body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        token = f"{body}.{signer._mac('order', body)}"
        response = await shop.get("/checkout", params={"order": token})
        assert response.status_code == 400
    assert flow == []


# -- CSRF and origin -------------------------------------------------------------------------


async def test_a_post_without_the_csrf_pair_or_from_another_origin_is_refused(shop, flow):
    hidden = await open_checkout(shop, order_token("web-csrf-1"))
    card = {"email": "a@example.com", "cardholder_name": "A", "card_number": PAN}
    card |= {"expiry": "12/30", "cvc": "737"}

    no_token = await shop.post("/checkout", data={**card, "order": hidden["order"]})
    wrong = await shop.post("/checkout", data={**card, **hidden, "csrf_token": "x" * 43})
    cross_site = await shop.post(
        "/checkout", data={**card, **hidden}, headers={"Origin": "https://evil.example"}
    )
    shop.cookies.clear()
    no_cookie = await shop.post("/checkout", data={**card, **hidden})

    for response in (no_token, wrong, cross_site, no_cookie):
        assert response.status_code == 403 and "expired" in response.text
    assert flow == []


async def test_a_post_from_the_apps_own_origin_is_accepted(shop, flow):
    hidden = await open_checkout(shop, order_token("web-origin-1"))
    form = {**hidden, "email": "a@example.com", "cardholder_name": "A", "card_number": PAN}
    response = await shop.post(
        "/checkout", data={**form, "expiry": "12/30", "cvc": "737"}, headers={"Origin": MERCHANT}
    )
    assert response.status_code == 200 and len(flow) == 1


async def test_the_csrf_cookie_is_http_only_and_same_site_strict(shop):
    response = await shop.get("/checkout", params={"order": order_token("web-cookie-1")})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


# -- card testing ----------------------------------------------------------------------------


async def test_failures_from_one_client_are_throttled_with_a_clear_refusal(shop, flow, clock):
    """Six declined cards in a row: five reach the flow, the sixth is refused before it."""
    for n in range(5):
        response = await pay(shop, f"web-testing-{n}", card=DECLINED)
        assert response.status_code == 200 and "Payment declined" in response.text

    refused = await pay(shop, "web-testing-5", card=DECLINED)
    good_card = await pay(shop, "web-testing-6")

    for response in (refused, good_card):
        assert response.status_code == 429
        assert "Too many payments from your connection failed" in response.text
        assert int(response.headers["retry-after"]) > 0
    assert len(flow) == 5

    clock.now += 901  # the window has passed
    assert (await pay(shop, "web-testing-7")).status_code == 200
    assert len(flow) == 6


async def test_invalid_cards_count_as_failures_too(shop, flow):
    for n in range(5):
        response = await pay(shop, f"web-invalid-{n}", card="4111111111111112")
        assert response.status_code == 422
    assert (await pay(shop, "web-invalid-5")).status_code == 429
    assert flow == []


async def test_a_used_order_id_is_refused_without_disclosing_its_payment(shop, flow, engine):
    with UnitOfWork(engine) as uow:
        record_intent(uow, "cit:web-used-1", AttemptKind.CIT, 99900, "ZAR")
        uow.commit()

    response = await pay(shop, "web-used-1")

    assert response.status_code == 409
    assert "already been paid or is being paid" in response.text
    assert "R 999.00" not in response.text and "Payment successful" not in response.text
    assert flow == []


# -- malformed requests: never a 5xx ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/checkout", "/3ds/return"])
async def test_a_form_of_51_fields_is_a_400(shop, flow, path):
    form = {f"f{n}": "x" for n in range(51)}
    response = await shop.post(path, data=form)
    assert response.status_code == 400 and "Malformed request" in response.text


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        (b"\xff\xfe\xfa", "application/x-www-form-urlencoded"),
        (b"--x\r\n", "multipart/form-data; boundary=x"),
        (b"a=%zz&&&==&b", "application/x-www-form-urlencoded"),
        (b"{}", "application/json"),
    ],
)
@pytest.mark.parametrize("path", ["/checkout", "/3ds/return"])
async def test_malformed_bodies_are_4xx(shop, flow, path, content, ctype):
    response = await shop.post(path, content=content, headers={"Content-Type": ctype})
    assert 400 <= response.status_code < 500
    assert flow == []


# -- headers ---------------------------------------------------------------------------------


async def test_pages_carry_a_csp_and_nosniff(shop, flow):
    form_page = await shop.get("/checkout", params={"order": order_token("web-csp-1")})
    csp = form_page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'none'" in csp
    for response in (form_page, await shop.get("/healthz")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "server" not in response.headers


async def test_the_3ds_hand_off_allows_only_its_script_and_the_acs(shop, monkeypatch):
    from apps.web import _flows
    from flows import ThreeDSRedirect
    from payflows.vault import default_vault

    async def challenge(**kwargs):  # type: ignore[no-untyped-def]
        default_vault.put_secret("pareq:md-1", "PAREQ")
        return PaymentResult(
            flow="customer-initiated-payment",
            business_key=f"cit:{kwargs['order_id']}",
            state=AttemptState.SUBMITTED,
            amount_cents=kwargs["amount_cents"],
            currency="ZAR",
            three_ds=ThreeDSRedirect(md="md-1", acs_url="https://acs.bank.example/challenge"),
        )

    monkeypatch.setattr(_flows, "checkout", challenge)
    response = await pay(shop, "web-3ds-csp")
    csp = response.headers["content-security-policy"]
    assert "form-action https://acs.bank.example" in csp and "script-src 'sha256-" in csp


async def test_a_second_post_of_an_order_in_progress_is_refused(shop, monkeypatch):
    import asyncio

    from apps.web import _flows

    started, release = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def slow(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["order_id"])
        started.set()
        await release.wait()
        return PaymentResult(
            flow="customer-initiated-payment",
            business_key=f"cit:{kwargs['order_id']}",
            state=AttemptState.SUCCEEDED,
            purchase_status="paid",
            amount_cents=kwargs["amount_cents"],
            currency="ZAR",
            masked_pan="411111******1111",
        )

    monkeypatch.setattr(_flows, "checkout", slow)
    first = asyncio.create_task(pay(shop, "web-race-1"))
    await asyncio.wait_for(started.wait(), 30)
    second = await pay(shop, "web-race-1", card="5555555555554444")
    release.set()
    assert (await first).status_code == 200
    assert second.status_code == 409 and "411111" not in second.text
    assert calls == ["web-race-1"]
