"""Every method sends the right method, path, key and body, and reads the answer into a model."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, quote

import httpx
import pytest

from payflows import __version__
from payflows.domain import BrowserFingerprint, CardData, Status
from payflows.gateway import (
    CardFlags,
    CardSubmission,
    Client,
    ClientDetails,
    Page,
    PreciumClient,
    PreciumError,
    Purchase,
    PurchaseRequest,
    RecurringToken,
    Refund,
    SubmissionStatus,
    ThreeDSResult,
    Webhook,
)
from payflows.gateway._http import _pool_sizes, route
from payflows.settings import Settings

from .payloads import (
    API_KEY,
    BASE_URL,
    BRAND_ID,
    CLIENT,
    CLIENT_ID,
    CVC,
    PAN,
    PURCHASE_ID,
    REFUND_CHIP,
    REFUND_GUIDE,
    S2S_3DS,
    S2S_3DS_GUIDE,
    S2S_EXECUTED,
    S2S_KEY,
    THREE_DS_SUCCESS,
    WEBHOOK,
    Recorder,
    chip_purchase,
)

STANDARD = f"Bearer {API_KEY}"
P = f"/api/v1/purchases/{PURCHASE_ID}"
DIRECT_POST_URL = f"https://gate.test/p/{PURCHASE_ID}/"


def card() -> CardData:
    return CardData(PAN, "12/30", CVC, "John Smith")


# (call, method, path, query, body sent, answer, type returned)
ROUTES = [
    (
        lambda g: g.get_client(CLIENT_ID),
        "GET",
        f"/api/v1/clients/{CLIENT_ID}/",
        {},
        None,
        CLIENT,
        Client,
    ),
    (
        lambda g: g.create_client(ClientDetails(email="customer@example.com", city="Cape Town")),
        "POST",
        "/api/v1/clients/",
        {},
        {"email": "customer@example.com", "city": "Cape Town"},
        CLIENT,
        Client,
    ),
    (
        lambda g: g.list_clients(email="customer@example.com", page=2),
        "GET",
        "/api/v1/clients/",
        {"email": ["customer@example.com"], "page": ["2"]},
        None,
        {"results": [CLIENT], "next": None, "previous": f"{BASE_URL}clients/?page=1"},
        Page,
    ),
    (
        lambda g: g.update_client(CLIENT_ID, ClientDetails(phone="+27000000000")),
        "PATCH",
        f"/api/v1/clients/{CLIENT_ID}/",
        {},
        {"phone": "+27000000000"},
        CLIENT,
        Client,
    ),
    (
        lambda g: g.update_client(CLIENT_ID, ClientDetails(email="a@b.test"), partial=False),
        "PUT",
        f"/api/v1/clients/{CLIENT_ID}/",
        {},
        {"email": "a@b.test"},
        CLIENT,
        Client,
    ),
    (
        lambda g: g.delete_client(CLIENT_ID),
        "DELETE",
        f"/api/v1/clients/{CLIENT_ID}/",
        {},
        None,
        None,
        type(None),
    ),
    (
        lambda g: g.list_recurring_tokens(CLIENT_ID),
        "GET",
        f"/api/v1/clients/{CLIENT_ID}/recurring_tokens/",
        {},
        None,
        {
            "results": [
                {
                    "id": "tok_row",
                    "recurring_token": PURCHASE_ID,
                    "type": "card",
                    "card_brand": "visa",
                    "masked_pan": "411111******1111",
                    "expiry_month": 12,
                    "expiry_year": 2030,
                    "network_transaction_id": "546464487987132",
                    "created_on": 1768400000,
                }
            ],
            "next": None,
            "previous": None,
        },
        Page,
    ),
    (lambda g: g.get_purchase(PURCHASE_ID), "GET", f"{P}/", {}, None, chip_purchase(), Purchase),
    (
        lambda g: g.capture(PURCHASE_ID),
        "POST",
        f"{P}/capture/",
        {},
        None,
        chip_purchase(),
        Purchase,
    ),
    (
        lambda g: g.capture(PURCHASE_ID, 35000),
        "POST",
        f"{P}/capture/",
        {},
        {"amount": 35000},
        chip_purchase(),
        Purchase,
    ),
    (
        lambda g: g.release(PURCHASE_ID),
        "POST",
        f"{P}/release/",
        {},
        None,
        chip_purchase(status="released"),
        Purchase,
    ),
    (
        lambda g: g.cancel(PURCHASE_ID),
        "POST",
        f"{P}/cancel/",
        {},
        None,
        {"id": PURCHASE_ID, "status": "cancelled", "cancelled_on": "2026-01-13T14:30:00Z"},
        Purchase,
    ),
    (lambda g: g.refund(PURCHASE_ID), "POST", f"{P}/refund/", {}, None, REFUND_GUIDE, Refund),
    (
        lambda g: g.refund(PURCHASE_ID, 15000),
        "POST",
        f"{P}/refund/",
        {},
        {"amount": 15000},
        REFUND_CHIP,
        Refund,
    ),
    (
        lambda g: g.cancel_refund(PURCHASE_ID, "ref_1"),
        "POST",
        f"{P}/refund/ref_1/cancel/",
        {},
        None,
        {**REFUND_GUIDE, "status": "cancelled", "refund_id": "ref_1"},
        Refund,
    ),
    (
        lambda g: g.charge(PURCHASE_ID, "tok_first_purchase"),
        "POST",
        f"{P}/charge/",
        {},
        {"recurring_token": "tok_first_purchase"},
        chip_purchase(),
        Purchase,
    ),
    (
        lambda g: g.delete_recurring_token(PURCHASE_ID),
        "POST",
        f"{P}/delete_recurring_token/",
        {},
        None,
        chip_purchase(is_recurring_token=False, recurring_token=None),
        Purchase,
    ),
    (
        lambda g: g.create_webhook(
            "ledger", "https://merchant.test/hooks/precium/", events=["purchase.paid"]
        ),
        "POST",
        "/api/v1/webhooks/",
        {},
        {
            "title": "ledger",
            "callback": "https://merchant.test/hooks/precium/",
            "events": ["purchase.paid"],
            "all_events": False,
        },
        WEBHOOK,
        Webhook,
    ),
    (lambda g: g.list_webhooks(), "GET", "/api/v1/webhooks/", {}, None, [WEBHOOK], Page),
    (lambda g: g.get_webhook("wh_1"), "GET", "/api/v1/webhooks/wh_1/", {}, None, WEBHOOK, Webhook),
    (
        lambda g: g.update_webhook("wh_1", all_events=True),
        "PATCH",
        "/api/v1/webhooks/wh_1/",
        {},
        {"all_events": True},
        WEBHOOK,
        Webhook,
    ),
    (
        lambda g: g.delete_webhook("wh_1"),
        "DELETE",
        "/api/v1/webhooks/wh_1/",
        {},
        None,
        None,
        type(None),
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "query", "sent", "answer", "returns"),
    ROUTES,
    ids=[f"{r[1]} {r[2]}" for r in ROUTES],
)
async def test_each_method_sends_its_route_with_the_standard_key(
    gateway, recorder: Recorder, call, method, path, query, sent, answer, returns
):
    recorder.reply(204 if answer is None else 200, answer)

    result = await call(gateway)

    request = recorder.last
    assert (request.method, request.url.host, request.url.path) == (method, "gate.test", path)
    assert parse_qs(request.url.query.decode()) == query
    assert request.headers["authorization"] == STANDARD
    assert recorder.last_json() == sent
    if sent is not None:
        assert request.headers["content-type"] == "application/json"
    assert isinstance(result, returns)
    assert len(recorder.requests) == 1


async def test_ids_are_quoted_so_they_cannot_add_path_segments(gateway, recorder):
    recorder.reply(200, chip_purchase())
    await gateway.get_purchase("../clients/x?y")
    assert recorder.last.url.raw_path == b"/api/v1/purchases/..%2Fclients%2Fx%3Fy/"


async def test_list_pages_read_into_typed_models(gateway, recorder):
    recorder.reply(
        200, {"results": [{"id": "t1", "card_brand": "visa"}], "next": f"{BASE_URL}x/?page=2"}
    )
    page = await gateway.list_recurring_tokens(CLIENT_ID)
    assert isinstance(page.results[0], RecurringToken)
    assert page.next == f"{BASE_URL}x/?page=2"
    assert page.previous is None


async def test_create_purchase_fills_in_the_clients_brand(gateway, recorder):
    recorder.reply(201, chip_purchase(status="created"))
    request = PurchaseRequest.single("Premium Subscription", 29900, "ZAR", client_id=CLIENT_ID)

    purchase = await gateway.create_purchase(request)

    assert recorder.last.method == "POST"
    assert recorder.last.url.path == "/api/v1/purchases/"
    assert recorder.last.headers["authorization"] == STANDARD
    body = recorder.last_json()
    assert body["brand_id"] == BRAND_ID
    assert body["purchase"]["products"] == [
        {"name": "Premium Subscription", "price": 29900, "quantity": 1}
    ]
    assert purchase.status is Status.CREATED


async def test_create_purchase_keeps_an_explicit_brand(gateway, recorder):
    recorder.reply(201, chip_purchase(status="created"))
    request = PurchaseRequest.single("x", 100, "ZAR", client_id=CLIENT_ID, brand_id="other-brand")
    await gateway.create_purchase(request)
    assert recorder.last_json()["brand_id"] == "other-brand"


async def test_create_purchase_sends_the_card_flags_nested_as_the_guide_does(gateway, recorder):
    recorder.reply(201, chip_purchase(status="created"))
    flags = CardFlags(
        is_recurring=True,
        previous_network_transaction_id="546464487987132",
        original_amount_cents=10000,
    )
    await gateway.create_purchase(
        PurchaseRequest.single("Monthly", 29900, "ZAR", client_id=CLIENT_ID, card=flags)
    )
    assert recorder.last_json()["purchase"]["payment_method_details"] == {
        "card": {
            "is_recurring": True,
            "previous_network_transaction_id": "546464487987132",
            "original_amount_cents": "10000",
        }
    }


async def test_refund_reads_both_shapes(gateway, recorder):
    recorder.reply(200, REFUND_GUIDE).reply(200, REFUND_CHIP)
    guide = await gateway.refund(PURCHASE_ID, 15000)
    chip = await gateway.refund(PURCHASE_ID, 15000)
    assert (guide.purchase_id, guide.refund_id, guide.amount) == (
        PURCHASE_ID,
        "ref_xyz789abc123",
        15000,
    )
    assert (chip.purchase_id, chip.refund_id, chip.amount) == (
        PURCHASE_ID,
        REFUND_CHIP["id"],
        15000,
    )
    assert guide.refunded_on == datetime(2026, 1, 14, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize("amount", [0, -5, 10.5, True, "100"])
async def test_amounts_must_be_positive_integer_cents(gateway, recorder, amount):
    with pytest.raises((TypeError, ValueError)):
        await gateway.capture(PURCHASE_ID, amount)
    assert recorder.requests == []


async def test_submit_card_posts_to_direct_post_url_with_the_s2s_key(gateway, recorder):
    recorder.reply(200, S2S_EXECUTED)

    result = await gateway.submit_card(
        DIRECT_POST_URL,
        card(),
        remote_ip="196.21.45.123",
        remember_card=True,
        browser=BrowserFingerprint(),
    )

    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == f"{DIRECT_POST_URL}?s2s=true"
    assert request.headers["authorization"] == f"Bearer {S2S_KEY}"
    body = recorder.last_json()
    assert body == {
        "cardholder_name": "John Smith",
        "card_number": PAN,
        "expires": "12/30",
        "cvc": CVC,
        "remember_card": "on",
        "remote_ip": "196.21.45.123",
        **BrowserFingerprint().as_fields(),
    }
    assert isinstance(result, CardSubmission)
    assert result.status is SubmissionStatus.EXECUTED
    assert result.approved and not result.requires_3ds
    assert result.purchase_id == PURCHASE_ID
    assert result.purchase_status is Status.PAID
    assert result.card is not None and result.card.last_4 == "1111"


async def test_submit_card_without_fingerprint_or_card_for_a_network_token(gateway, recorder):
    recorder.reply(200, {**S2S_EXECUTED, "status": "authorized"})
    result = await gateway.submit_card(DIRECT_POST_URL, None, remote_ip="8.8.8.8")
    assert recorder.last_json() == {"remember_card": "off", "remote_ip": "8.8.8.8"}
    assert result.status is SubmissionStatus.AUTHORIZED


async def test_submit_card_keeps_an_existing_query_and_uses_an_absolute_url_as_given(
    gateway, recorder
):
    recorder.reply(200, S2S_EXECUTED)
    await gateway.submit_card("https://other.test/p/xyz/?lang=en", card(), remote_ip="8.8.8.8")
    assert recorder.last.url.host == "other.test"
    assert parse_qs(recorder.last.url.query.decode()) == {"lang": ["en"], "s2s": ["true"]}


@pytest.mark.parametrize("answer", [S2S_3DS, S2S_3DS_GUIDE], ids=["wire", "guide-example"])
async def test_submit_card_reads_a_3ds_challenge(gateway, recorder, answer):
    recorder.reply(200, answer)
    result = await gateway.submit_card(
        DIRECT_POST_URL, card(), remote_ip="8.8.8.8", browser=BrowserFingerprint()
    )
    assert result.requires_3ds
    assert result.three_ds is not None
    assert result.three_ds.md == answer.get("MD", answer["md"])
    assert result.three_ds.pareq == answer["PaReq"]
    assert result.three_ds.url == answer["URL"]
    assert result.three_ds.callback_url == answer["callback_url"]
    assert result.three_ds.method == "POST"
    # The answer names no purchase: the id comes from the direct_post_url.
    assert result.purchase_id == PURCHASE_ID


async def test_complete_3ds_posts_the_form_without_a_key(gateway, recorder):
    recorder.reply(200, THREE_DS_SUCCESS)
    callback = "https://gate.test/3ds/callback/md_abc123/"

    result = await gateway.complete_3ds(callback, "md_abc123", "PaRes+/=value")

    request = recorder.last
    assert (request.method, str(request.url)) == ("POST", callback)
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {"MD": ["md_abc123"], "PaRes": ["PaRes+/=value"]}
    assert isinstance(result, ThreeDSResult)
    assert (result.purchase_id, result.status) == (PURCHASE_ID, Status.PAID)
    assert result.card is not None and result.card.token == "tok_abc123def456"


async def test_get_public_key_returns_the_pem(gateway, recorder):
    pem = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
    recorder.reply(200, pem)
    assert await gateway.get_public_key() == pem
    assert recorder.last.url.path == "/api/v1/public_key/"
    assert recorder.last.headers["authorization"] == STANDARD


async def test_user_agent_names_payflows_and_httpx(gateway, recorder):
    recorder.reply(200, chip_purchase())
    await gateway.get_purchase(PURCHASE_ID)
    assert (
        recorder.last.headers["user-agent"] == f"payflows/{__version__} httpx/{httpx.__version__}"
    )
    assert recorder.last.headers["accept"] == "application/json"


async def test_requests_carry_what_httpxs_build_request_would_give_them(gateway, recorder):
    """The client builds its requests itself (its headers once per kind of call): the headers,
    their order and the timeouts are those ``build_request`` merges from the pool's defaults."""
    pool = gateway._pools[0]
    recorder.reply(200, chip_purchase()).reply(200, chip_purchase()).reply(200, THREE_DS_SUCCESS)
    await gateway.get_purchase(PURCHASE_ID)
    await gateway.capture_state(PURCHASE_ID, 500)
    await gateway.complete_3ds("https://gate.test/3ds/callback/md_1/", "md_1", "x")
    get, capture, form = recorder.requests
    expected = [
        pool.build_request("GET", get.url, headers={"Authorization": STANDARD}),
        pool.build_request(
            "POST",
            capture.url,
            content=capture.content,
            headers={"Authorization": STANDARD, "Content-Type": "application/json"},
        ),
        pool.build_request("POST", form.url, data={"MD": "md_1", "PaRes": "x"}),
    ]
    for sent, built in zip(recorder.requests, expected, strict=True):
        assert sent.headers.multi_items() == built.headers.multi_items()
        assert sent.extensions == built.extensions
        assert sent.content == built.content


async def test_a_cookie_the_gateway_sets_is_sent_back(gateway, recorder):
    recorder.reply(200, chip_purchase(), headers={"Set-Cookie": "lb=node-2; Path=/"})
    recorder.reply(200, chip_purchase())
    await gateway.get_purchase(PURCHASE_ID)
    await gateway.get_purchase(PURCHASE_ID)
    assert "cookie" not in recorder.requests[0].headers
    assert recorder.requests[1].headers["cookie"] == "lb=node-2"


async def test_relative_routes_join_a_base_url_without_trailing_slash(recorder):
    recorder.reply(200, chip_purchase())
    transport = httpx.MockTransport(recorder)
    async with PreciumClient(
        "https://gate.test/api/v1", "k", "s", BRAND_ID, transport=transport
    ) as g:
        await g.get_purchase("p1")
    assert str(recorder.last.url) == "https://gate.test/api/v1/purchases/p1/"


async def test_timeouts_connect_five_seconds_read_the_configured_timeout(recorder):
    async with PreciumClient(
        BASE_URL, "k", "s", BRAND_ID, transport=httpx.MockTransport(recorder), timeout=12.0
    ) as g:
        timeout = g._pools[0].timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (5.0, 12.0, 12.0, 12.0)


@pytest.mark.parametrize(
    ("max_connections", "sizes"),
    [(1, [1]), (8, [8]), (9, [5, 4]), (16, [8, 8]), (20, [7, 7, 6]), (64, [8] * 8)],
)
def test_connections_are_spread_over_pools_of_at_most_eight(max_connections, sizes):
    assert _pool_sizes(max_connections) == sizes


async def test_pools_are_used_round_robin():
    client = PreciumClient(BASE_URL, "k", "s", BRAND_ID, max_connections=20)
    try:
        assert len(client._pools) == 3
        picked = [next(client._rotation) for _ in range(6)]
        assert picked == [*client._pools, *client._pools]
    finally:
        await client.aclose()


async def test_an_injected_transport_gets_one_pool(recorder):
    client = PreciumClient(
        BASE_URL, "k", "s", BRAND_ID, transport=httpx.MockTransport(recorder), max_connections=64
    )
    assert len(client._pools) == 1
    await client.aclose()


async def test_from_settings_uses_the_configured_gateway(recorder):
    settings = Settings(
        _env_file=None,
        PRECIUM_BASE_URL="https://gate.test/api/v1/",
        PRECIUM_API_KEY=API_KEY,
        PRECIUM_S2S_API_KEY=S2S_KEY,
        PRECIUM_BRAND_ID=BRAND_ID,
        PRECIUM_TIMEOUT_SECONDS=7,
    )
    recorder.reply(200, chip_purchase()).reply(200, S2S_EXECUTED)
    async with PreciumClient.from_settings(settings, transport=httpx.MockTransport(recorder)) as g:
        assert g.brand_id == BRAND_ID
        assert g._pools[0].timeout.read == 7
        await g.get_purchase(PURCHASE_ID)
        await g.submit_card(DIRECT_POST_URL, card(), remote_ip="8.8.8.8")
    assert recorder.requests[0].headers["authorization"] == STANDARD
    assert recorder.requests[1].headers["authorization"] == f"Bearer {S2S_KEY}"


async def test_the_client_never_sends_a_request_twice(gateway, recorder):
    recorder.reply(503, {"detail": "busy"})
    with pytest.raises(PreciumError):
        await gateway.get_purchase(PURCHASE_ID)
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "base", ["https://gw.example/api/v1/?tenant=x", "https://gw.example/api/v1/#top"]
)
def test_a_base_url_with_a_query_or_fragment_is_refused(base: str) -> None:
    # Routes are appended to the base as text: "?tenant=x" + "purchases/" would send every
    # request to the base itself with a query of "tenant=xpurchases/".
    with pytest.raises(ValueError, match="no query string or fragment"):
        PreciumClient(base, "k", "s", "brand")


def test_routes_are_appended_to_a_base_with_or_without_its_slash() -> None:
    for base in ("https://gw.example/api/v1", "https://gw.example/api/v1/"):
        client = PreciumClient(base, "k", "s", "brand")
        assert str(client._url("purchases/abc/")) == "https://gw.example/api/v1/purchases/abc/"


@pytest.mark.parametrize(
    "part",
    ["05e8c341-d3c0-4f45-a096-2acb1512e119", "a.b_c~d", "..", "a/b", "a?b#c", "50%", "é", "", 7],
)
def test_a_route_quotes_each_part_as_quote_does(part: str) -> None:
    """Plain ids skip ``quote``; anything else is quoted by it, so no part adds a segment."""
    assert route("purchases", part, "charge") == f"purchases/{quote(str(part), safe='')}/charge/"
