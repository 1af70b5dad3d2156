"""Fixtures for the sandbox tests: an in-process sandbox and a raw-HTTP helper around it.

The helper speaks plain HTTP (no payflows client) so these tests pin the wire itself.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from payflows.domain.states import PREVIOUS, TRANSITIONS
from payflows.sandbox import SandboxConfig, complete_challenge, create_app
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY

API = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
S2S = {"Authorization": f"Bearer {SANDBOX_S2S_API_KEY}"}
BRAND_ID = SANDBOX_BRAND_ID
DAY = 86_400
HOOK = "http://receiver.test/hook"
CALLBACK = "http://receiver.test/paid"

FINGERPRINT: dict[str, Any] = {
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


def card_body(number: str, *, cvc: str = "123", expires: str = "12/35", **extra: Any) -> dict:
    body = {
        "cardholder_name": "John Smith",
        "card_number": number,
        "expires": expires,
        "cvc": cvc,
        "remember_card": "off",
        "remote_ip": "196.21.45.123",
    }
    body.update(extra)
    return body


def assert_history_follows_table(purchase: dict[str, Any]) -> None:
    """Every step of status_history is a row of the one transition table."""
    steps = [h["status"] for h in purchase["status_history"]]
    assert steps[0] == "created"
    for before, after in itertools.pairwise(steps):
        assert any(
            src == before and (dst in (after, PREVIOUS))
            for (src, _op, _res), dst in TRANSITIONS.items()
        ), f"{before} -> {after} is not in the transition table"


class Gateway:
    """Raw HTTP against the sandbox, with shortcuts for the steps every test repeats."""

    def __init__(self, http: httpx.AsyncClient, app: Any) -> None:
        self.http = http
        self.app = app

    # -- raw -----------------------------------------------------------------------------------
    async def api(self, method: str, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        url = path if path.startswith("http") else f"/api/v1/{path.lstrip('/')}"
        return await self.http.request(method, url, json=json, headers=API, **kw)

    async def sandbox(self, method: str, path: str, json: Any = None) -> httpx.Response:
        return await self.http.request(
            method, f"/_sandbox/{path.lstrip('/')}", json=json, headers=API
        )

    async def get(self, purchase_id: str) -> dict[str, Any]:
        response = await self.api("GET", f"purchases/{purchase_id}/")
        assert response.status_code == 200, response.text
        return response.json()

    async def submit(self, purchase: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        url = purchase["direct_post_url"]
        assert url, "the purchase has no direct_post_url"
        return await self.http.post(f"{url}?s2s=true", json=body, headers=S2S)

    async def advance(self, seconds: float) -> dict[str, Any]:
        response = await self.sandbox("POST", "clock/advance/", {"seconds": seconds})
        assert response.status_code == 200, response.text
        return response.json()

    # -- shortcuts -----------------------------------------------------------------------------
    async def client(self, email: str = "customer@example.com") -> str:
        response = await self.api("POST", "clients/", {"email": email, "full_name": "Customer"})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def purchase(self, price: int = 29900, **fields: Any) -> dict[str, Any]:
        details = fields.pop("details", {})
        body = {
            "client_id": fields.pop("client_id", None) or await self.client(),
            "brand_id": BRAND_ID,
            "purchase": {
                "currency": "ZAR",
                "language": "en",
                "products": [{"name": "Thing", "price": price}],
                **details,
            },
            "reference": fields.pop("reference", "REF-1"),
            "success_redirect": "https://shop.example/ok",
            "failure_redirect": "https://shop.example/fail",
            **fields,
        }
        response = await self.api("POST", "purchases/", body)
        assert response.status_code == 201, response.text
        return response.json()

    async def paid(self, number: str = "4111111111111111", **fields: Any) -> dict[str, Any]:
        """A purchase paid (or held, with skip_capture) by a card that needs no challenge."""
        purchase = await self.purchase(**fields)
        response = await self.submit(purchase, card_body(number, **FINGERPRINT))
        assert response.status_code == 200, response.text
        assert response.json()["status"] in ("executed", "authorized"), response.text
        return await self.get(purchase["id"])

    async def challenge(
        self, answer: dict[str, Any], approve: bool = True, term_url: str = "https://shop/3ds"
    ) -> httpx.Response:
        """Play the shopper on the ACS page, then post the merchant's callback."""
        assert answer["status"] == "3DS_required", answer
        pares = await complete_challenge(
            self.http, answer["URL"], answer["MD"], answer["PaReq"], term_url, approve=approve
        )
        return await self.http.post(
            answer["callback_url"], data={"MD": answer["MD"], "PaRes": pares}
        )


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig(timeout_seconds=0.05, webhook_backoff_base=0.01)


@pytest.fixture
def make_gateway() -> Callable[..., Any]:
    """Start a sandbox (lifespan included) for a config; for tests that need two in a row."""

    def factory(config: SandboxConfig, **app_kw: Any) -> Any:
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def running() -> AsyncIterator[Gateway]:
            app = create_app(config, **app_kw)
            async with LifespanManager(app) as manager:
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://testserver"
                ) as http:
                    yield Gateway(http, app)

        return running()

    return factory


@pytest.fixture
async def gw(config: SandboxConfig, make_gateway: Callable[..., Any]) -> AsyncIterator[Gateway]:
    async with make_gateway(config) as gateway:
        yield gateway


class Receiver:
    """The merchant's webhook endpoint, in-process: records every delivery and answers 200."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.fail_next = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_next:
            self.fail_next -= 1
            return httpx.Response(500)
        return httpx.Response(200)

    def events(self, url: str = HOOK) -> list[tuple[str, dict[str, Any]]]:
        seen = []
        for request in self.requests:
            if str(request.url) == url:
                body = json.loads(request.content)
                seen.append((body["event_type"], body))
        return seen


@pytest.fixture
async def hooked(
    config: SandboxConfig, make_gateway: Callable[..., Any]
) -> AsyncIterator[tuple[Gateway, Receiver, dict[str, Any]]]:
    receiver = Receiver()
    transport = httpx.MockTransport(receiver.handler)
    async with make_gateway(config, webhook_transport=transport) as gw:
        body = {"title": "all", "all_events": True, "events": [], "callback": HOOK}
        webhook = (await gw.api("POST", "webhooks/", body)).json()
        yield gw, receiver, webhook


async def flush(gw: Gateway) -> None:
    assert (await gw.sandbox("POST", "webhooks/flush/")).status_code == 200
