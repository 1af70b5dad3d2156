"""What the web tests share: a loopback server thread, signing, and a seeded ledger."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import select

from payflows.ledger import (
    AttemptKind,
    Hold,
    PaymentAttempt,
    UnitOfWork,
    attach_purchase,
    get_attempt,
    mark_submitted,
    record_hold,
    record_intent,
    upsert_customer,
    upsert_payment_method,
)
from payflows.ledger.models import Refund, WebhookEvent
from payflows.sandbox.signing import sign
from tests.support.shared import WEBHOOK_SAMPLES

SAMPLES = WEBHOOK_SAMPLES
ALL_SAMPLES = sorted(SAMPLES.glob("*.json"))

#: The purchases of the seventeen samples, and whether each was a hold (``skip_capture``).
SAMPLE_PURCHASES = {
    "bb2529fa-42b7-404b-a412-ed75b2191b38": False,  # 01 paid
    "41336826-052f-431d-98f0-dcccc3969ebf": False,  # 02 created, 04 payment_failure
    "194b7203-dd98-4c05-b14b-debb67165fd3": False,  # 03 viewed
    "a1b8daa2-4c15-4403-b5a0-997a1923ff4e": False,  # 05 pending_execute
    "8d065839-77c6-4f65-980b-dbb8a5eb2886": False,  # 07 settled
    "b6cd91ee-3969-49e1-87e1-0d2dbc277294": True,  # 08 hold .. 12 refunded
    "38928be3-fff3-4166-8732-2f7d311b6b85": True,  # 15 pending_release, 16 released
    "4bfa3571-66d5-4940-8adc-13b1c6714e11": True,  # 17 cancelled
}
#: The zero-amount pre-authorisations that saved a card (the purchase id is the token).
SAMPLE_TOKENS = {
    "4352941c-d3a0-4f54-b69d-1b0dfc6a6335": "06 preauthorized",
    "29574aa0-cb2a-4f50-9493-0be4410693f8": "13 pending delete, 14 deleted",
}

GUIDE_ENVELOPE: dict[str, Any] = {
    "event": "purchase.paid",
    "timestamp": "2026-01-13T10:35:12Z",
    "data": {
        "purchase_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        "status": "paid",
        "amount": 29900,
        "currency": "ZAR",
        "client_id": "d9f8a7b6-c5e4-3d2a-1b0c-9e8d7f6a5b4c",
        "payment_method": {"type": "card", "brand": "visa", "last_4": "1091"},
    },
}


def signed(body: bytes, key: RSAPrivateKey) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Signature": sign(body, key)}


def seed_purchase(
    engine: Engine,
    purchase_id: str,
    *,
    amount: int = 100,
    currency: str = "MYR",
    hold: bool = False,
) -> None:
    """An attempt that submitted a card on ``purchase_id`` (and its hold, for a pre-auth)."""
    key = f"test:{purchase_id}"
    kind = AttemptKind.PREAUTH if hold else AttemptKind.CIT
    with UnitOfWork(engine) as uow:
        attempt = record_intent(uow, key, kind, amount, currency)
        attach_purchase(uow, key, purchase_id)
        mark_submitted(uow, key)
        if hold:
            at = datetime(2024, 2, 19, 9, 0, tzinfo=UTC)
            record_hold(
                uow,
                purchase_id,
                authorised_cents=amount,
                currency=currency,
                authorised_at=at,
                expires_at=at + timedelta(days=7),
                brand="visa",
                attempt_id=attempt.id,
            )
        uow.commit()


def seed_card(engine: Engine, token: str, *, external_id: str = "cus-sample") -> int:
    """A zero-amount pre-authorisation on ``token`` and the stored card it saved."""
    key = f"test:{token}"
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, external_id, email=f"{external_id}@example.test")
        record_intent(uow, key, AttemptKind.ZERO_AUTH, 0, "MYR", customer_id=customer.id)
        attach_purchase(uow, key, token)
        mark_submitted(uow, key)
        method = upsert_payment_method(
            uow, token, customer_id=customer.id, brand="visa", masked_pan="444433******1111"
        )
        uow.commit()
        assert method.id is not None
        return method.id


def ledger_snapshot(engine: Engine) -> dict[str, Any]:
    """What the webhooks changed: statuses of attempts and holds, refunds. Comparable."""
    with UnitOfWork(engine) as uow:
        attempts = {
            a.purchase_id: (a.state.value, a.purchase_status.value if a.purchase_status else None)
            for a in uow.session.exec(select(PaymentAttempt))
        }
        holds = {
            h.purchase_id: (h.status.value, h.captured_cents)
            for h in uow.session.exec(select(Hold))
        }
        refunds = {
            r.refund_id: (r.purchase_id, r.amount_cents, r.currency, r.status.value)
            for r in uow.session.exec(select(Refund))
        }
    return {"attempts": attempts, "holds": holds, "refunds": refunds}


def stored_events(engine: Engine) -> list[WebhookEvent]:
    with UnitOfWork(engine) as uow:
        rows = list(uow.session.exec(select(WebhookEvent).order_by(WebhookEvent.id)))
        for row in rows:
            uow.session.expunge(row)
        return rows


def attempt_of(engine: Engine, purchase_id: str) -> PaymentAttempt:
    with UnitOfWork(engine) as uow:
        attempt = get_attempt(uow, purchase_id=purchase_id)
        assert attempt is not None
        uow.session.expunge(attempt)
        return attempt


def sample(name_part: str) -> bytes:
    (path,) = [p for p in ALL_SAMPLES if name_part in p.name]
    return path.read_bytes()


def reserialised(raw: bytes, **changes: Any) -> bytes:
    data = json.loads(raw)
    data.update(changes)
    return json.dumps(data).encode()


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """``app`` on a free loopback port in a uvicorn thread; yields ``http://HOST:PORT``.

    ``app`` may be a callable ``(origin) -> app`` for an app that must know its own URL (the
    web app builds its TermUrl on it): the socket is bound first, then the app is made.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    origin = f"http://{host}:{sock.getsockname()[1]}"
    if not hasattr(app, "router") and callable(app):
        app = app(origin)
    server = uvicorn.Server(
        uvicorn.Config(
            app, access_log=False, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="payflows-web-test", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 15
        with httpx.Client(timeout=1.0) as client:
            while True:
                if not thread.is_alive():
                    raise RuntimeError("the web app stopped during start-up")
                if server.started:
                    try:
                        if client.get(f"{origin}/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the web app did not answer on {origin}")
                time.sleep(0.01)
        yield origin
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and "name" in values:
            self.forms[-1]["fields"][values["name"]] = values.get("value", "")


def forms_of(html: str) -> list[dict[str, Any]]:
    """The forms of a page as a browser sees them: ``{"action", "fields"}``."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


#: The checkout secret of the web tests' apps (PAYFLOWS_CHECKOUT_SECRET): the tests play the shop.
CHECKOUT_SECRET = "web-tests-checkout-secret-0123456789"


def order_token(
    order_id: str,
    amount_cents: int = 12550,
    *,
    product: str = "Blue mug",
    mode: str = "cit",
    currency: str = "ZAR",
) -> str:
    """A signed order, as the shop's server makes it."""
    from apps.web.guard import Order, OrderSigner

    order = Order(order_id, amount_cents, currency, product, mode)  # type: ignore[arg-type]
    return OrderSigner(CHECKOUT_SECRET).sign(order)


async def open_checkout(client: httpx.AsyncClient, token: str | None = None) -> dict[str, str]:
    """GET the checkout page (keeping its CSRF cookie) and return its hidden fields."""
    page = await client.get("/checkout", params={"order": token} if token else None)
    assert page.status_code == 200, page.text
    (form,) = forms_of(page.text)
    return {k: v for k, v in form["fields"].items() if k in {"order", "csrf_token"}}
