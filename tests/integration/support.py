"""The pieces the integration tests share: a loopback server thread, the webhook receiver, the
sandbox's control routes over raw HTTP, and the few steps every payment scenario repeats.

Everything here talks real HTTP over 127.0.0.1. The gateway is only ever driven through
:class:`~payflows.gateway.PreciumClient`; raw httpx is used for the ``/_sandbox/`` routes and to
play the shopper's browser on the ACS page, which are not part of the gateway's API.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payflows.domain import BrowserFingerprint, CardData
from payflows.gateway import (
    CardSubmission,
    Client,
    ClientDetails,
    PreciumClient,
    Purchase,
    PurchaseRequest,
    ThreeDSResult,
)
from payflows.sandbox import complete_challenge
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY

__all__ = [
    "BROWSER",
    "DAY",
    "SHOP",
    "Delivery",
    "Flow",
    "Receiver",
    "SandboxControl",
    "card",
    "connect",
    "serve_in_thread",
    "wait_until",
]

DAY = 86_400
#: Far enough ahead that no clock advance in these tests makes it expire.
EXPIRES = "12/35"
BROWSER = BrowserFingerprint()
SHOP = {
    "success_redirect": "https://shop.example/ok",
    "failure_redirect": "https://shop.example/fail",
}
#: Where the shopper's browser carries the PaRes (the merchant's own page; never fetched here).
TERM_URL = "https://shop.example/3ds/return"
REMOTE_IP = "196.21.45.123"


def card(number: str, cvc: str = "123", expires: str = EXPIRES) -> CardData:
    return CardData(number, expires, cvc, "John Smith")


def connect(base_url: str, *, timeout: float = 5.0, **overrides: Any) -> PreciumClient:
    """A client on the sandbox's published keys (in live mode, the configured ones);
    ``overrides`` swap a key or the brand."""
    from tests.integration.live import LIVE, live_keys

    keys: dict[str, Any] = {
        "api_key": SANDBOX_API_KEY,
        "s2s_api_key": SANDBOX_S2S_API_KEY,
        "brand_id": SANDBOX_BRAND_ID,
    }
    if LIVE:
        keys = {k: v for k, v in live_keys().items() if k != "base_url"}
        timeout = max(timeout, 30.0)
    keys.update(overrides)
    return PreciumClient(base_url, timeout=timeout, **keys)


async def wait_until(
    check: Callable[[], Any], *, timeout: float = 5.0, interval: float = 0.02
) -> Any:
    """Poll ``check`` (sync or async) until it answers something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s")
        await asyncio.sleep(interval)


# -- a server on a loopback socket, in a thread ------------------------------------------------


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free 127.0.0.1 port; yields ``http://127.0.0.1:PORT``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="webhook-receiver", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the webhook receiver did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# -- the webhook receiver ----------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got: the raw bytes as received, and what it answered."""

    body: bytes
    signature: str | None
    answered: int

    @property
    def accepted(self) -> bool:
        return 200 <= self.answered < 300


class Receiver:
    """A merchant's webhook endpoint: ``POST /hooks/{name}/`` records and answers 200.

    Each test listens on its own ``name``, so tests sharing one sandbox never see each other's
    events. :meth:`fail_first` makes a name answer 500 to its next deliveries, as a receiver
    that is down would.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, list[Delivery]] = {}
        self._failures_left: dict[str, int] = {}
        self.origin = ""
        self.app = Starlette(routes=[Route("/hooks/{name}/", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        with self._lock:
            failing = self._failures_left.get(name, 0) > 0
            if failing:
                self._failures_left[name] -= 1
            status = 500 if failing else 200
            self._seen.setdefault(name, []).append(
                Delivery(body, request.headers.get("x-signature"), status)
            )
        return Response(status_code=status)

    def new_name(self) -> str:
        return uuid.uuid4().hex

    def url(self, name: str) -> str:
        return f"{self.origin}/hooks/{name}/"

    def fail_first(self, name: str, count: int) -> None:
        with self._lock:
            self._failures_left[name] = count

    def deliveries(self, name: str) -> list[Delivery]:
        """Every POST to ``name`` so far, failed ones included, in arrival order."""
        with self._lock:
            return list(self._seen.get(name, []))

    def accepted(self, name: str) -> list[Delivery]:
        return [d for d in self.deliveries(name) if d.accepted]


# -- the sandbox's own control routes ----------------------------------------------------------


class SandboxControl:
    """``/_sandbox/`` over raw HTTP: faults, switches, clock, webhook flush, inspection."""

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.origin = base_url.removesuffix("/").removesuffix("/api/v1")
        self.http = http
        self._headers = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.http.request(
            method, f"{self.origin}/_sandbox/{path}", json=json, headers=self._headers
        )
        assert response.status_code == 200, f"{method} /_sandbox/{path}: {response.text}"
        return response.json()

    async def faults(self, *rules: dict[str, Any]) -> list[dict[str, Any]]:
        return (await self._call("PUT", "faults/", {"rules": list(rules)}))["rules"]

    async def clear_faults(self) -> None:
        await self._call("DELETE", "faults/")

    async def configure(self, **switches: Any) -> dict[str, Any]:
        return await self._call("PUT", "config/", switches)

    async def advance(self, *, days: float = 0, seconds: float = 0) -> dict[str, Any]:
        return await self._call("POST", "clock/advance/", {"seconds": days * DAY + seconds})

    async def flush_webhooks(self) -> list[dict[str, Any]]:
        return (await self._call("POST", "webhooks/flush/"))["results"]

    async def purchases(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return (await self._call("GET", f"purchases/?{query}"))["results"]


# -- the steps every scenario repeats ----------------------------------------------------------


class Flow:
    """A merchant's integration in a few verbs, through :class:`PreciumClient` only."""

    def __init__(self, gateway: PreciumClient, browser: httpx.AsyncClient) -> None:
        self.gateway = gateway
        self.browser = browser

    async def client(self) -> Client:
        return await self.gateway.create_client(
            ClientDetails(
                email=f"customer-{uuid.uuid4().hex[:12]}@example.com",
                full_name="Customer Name",
                phone="+27123456789",
                city="Cape Town",
                country="South Africa",
            )
        )

    async def purchase(
        self,
        price: int = 29_900,
        *,
        client_id: str | None = None,
        name: str = "Premium Subscription",
        redirects: bool = True,
        **fields: Any,
    ) -> Purchase:
        if client_id is None:
            client_id = (await self.client()).id
        fields.setdefault("reference", f"IT-{uuid.uuid4().hex[:16]}")
        extra = SHOP if redirects else {}
        request = PurchaseRequest.single(name, price, "ZAR", client_id=client_id, **extra, **fields)
        return await self.gateway.create_purchase(request)

    async def submit(
        self,
        purchase: Purchase,
        number: str | None,
        *,
        cvc: str = "123",
        expires: str = EXPIRES,
        browser: bool = True,
        remember_card: bool = False,
    ) -> CardSubmission:
        assert purchase.direct_post_url, "the purchase has no direct_post_url"
        return await self.gateway.submit_card(
            purchase.direct_post_url,
            card(number, cvc, expires) if number is not None else None,
            remote_ip=REMOTE_IP,
            remember_card=remember_card,
            browser=BROWSER if browser else None,
        )

    async def paid(
        self, number: str = "4111111111111111", price: int = 29_900, **fields: Any
    ) -> Purchase:
        """A purchase paid (or held, with ``skip_capture``) by a card that asks no challenge."""
        purchase = await self.purchase(price, **fields)
        answer = await self.submit(purchase, number)
        assert answer.approved, answer
        return await self.gateway.get_purchase(purchase.id)

    async def shopper_answers(self, submission: CardSubmission, *, approve: bool = True) -> str:
        """The shopper's browser on the ACS page: the PaRes it carries back to the merchant."""
        challenge = submission.three_ds
        assert submission.requires_3ds and challenge is not None, submission
        return await complete_challenge(
            self.browser, challenge.url, challenge.md, challenge.pareq, TERM_URL, approve=approve
        )

    async def pass_3ds(self, submission: CardSubmission, *, approve: bool = True) -> ThreeDSResult:
        """Shopper on the ACS page, then the merchant's callback with the PaRes."""
        pares = await self.shopper_answers(submission, approve=approve)
        challenge = submission.three_ds
        assert challenge is not None and challenge.callback_url
        return await self.gateway.complete_3ds(challenge.callback_url, challenge.md, pares)
