"""What keeps the checkout from being a card-testing tool: signed orders, CSRF, failure limits.

- **Signed orders.** The shopper never chooses the amount. The shop's server makes an order
  (order id, amount, currency, product, mode, expiry) and signs it with
  ``PAYFLOWS_CHECKOUT_SECRET``; the checkout shows it and pays exactly it. A token is
  ``base64url(JSON) "." base64url(HMAC-SHA256(secret, "order:" + base64url(JSON)))``, so a shop
  in any language can make one (:func:`OrderSigner.sign` in Python).
- **CSRF.** The form page sets a random cookie (``HttpOnly``, ``SameSite=Strict``) and carries
  ``HMAC(secret, "csrf:" + cookie)`` in a hidden field; a POST without the pair is refused, and
  so is one whose ``Origin`` (or ``Referer``) is not the app's public origin.
- **Failure limits.** :class:`LedgerFailureLimiter` counts a client's failed attempts
  (declines, invalid cards, refused orders) in a sliding window; past the limit the checkout
  answers 429 with ``Retry-After`` before the card is even read. The counts live in the ledger
  (:mod:`payflows.ledger.throttle`), so several web instances and a restarted one share them.

What a merchant should still put in front of the checkout (a WAF, challenges, a global velocity
alarm) is in docs/production.md.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.engine import Engine

from payflows.domain.money import FORM_MAX_CENTS, validate_currency
from payflows.domain.screening import contains_card_number
from payflows.ledger import UnitOfWork
from payflows.ledger.throttle import blocked_until, prune_failures, record_failure

__all__ = [
    "CSRF_COOKIE",
    "InvalidOrder",
    "LedgerFailureLimiter",
    "Order",
    "OrderSigner",
    "same_origin",
]

CSRF_COOKIE = "payflows_csrf"
_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_MAX_TOKEN = 4096


class InvalidOrder(ValueError):
    """The order token is missing, forged, expired or malformed (the reason is for logs only)."""


@dataclass(frozen=True, slots=True)
class Order:
    """What the shopper is asked to pay: decided by the shop's server, never by the form."""

    order_id: str
    amount_cents: int
    currency: str
    product: str
    mode: Literal["cit", "preauth"] = "cit"
    #: Unix time after which the token is refused.
    expires_at: int = 0

    def check(self) -> Order:
        """This order if every field is acceptable, else InvalidOrder (never quoting a value)."""
        if not isinstance(self.order_id, str) or not _ORDER_ID.match(self.order_id):
            raise InvalidOrder("order_id must be 6 to 64 letters, digits, _ or -")
        amount = self.amount_cents
        # The flows' forms' limit (11 digits, never a card number's length): refused here, at
        # the shop's signing, rather than by the payment flow after the shopper typed a card.
        if (
            not isinstance(amount, int)
            or isinstance(amount, bool)
            or not 0 < amount <= FORM_MAX_CENTS
        ):
            raise InvalidOrder(f"amount_cents must be a whole number from 1 to {FORM_MAX_CENTS}")
        try:
            validate_currency(self.currency)
        except ValueError as exc:
            raise InvalidOrder(str(exc)) from None
        if not isinstance(self.product, str) or not 0 < len(self.product.strip()) <= 120:
            raise InvalidOrder("product must be 1 to 120 characters")
        if self.mode not in ("cit", "preauth"):
            raise InvalidOrder("mode must be cit or preauth")
        if isinstance(self.expires_at, bool) or not isinstance(self.expires_at, int):
            raise InvalidOrder("expires_at must be a Unix time")
        for name in ("order_id", "product"):
            if contains_card_number(getattr(self, name)):
                raise InvalidOrder(f"{name} looks like it holds a card number")
        return self


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OrderSigner:
    """Signs and verifies orders and CSRF tokens with one secret."""

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("the checkout secret must be at least 16 characters")
        self._key = secret.encode()
        self._clock = clock

    def _mac(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{text}".encode(), hashlib.sha256).digest())

    # -- orders ------------------------------------------------------------------------------
    def sign(self, order: Order, *, valid_seconds: int = 3600) -> str:
        """The token of ``order`` (its ``expires_at`` set ``valid_seconds`` from now if 0)."""
        if not order.expires_at:
            order = Order(**{**asdict(order), "expires_at": int(self._clock()) + valid_seconds})
        order.check()
        body = _b64(json.dumps(asdict(order), separators=(",", ":")).encode())
        return f"{body}.{self._mac('order', body)}"

    def verify(self, token: str) -> Order:
        """The order a token carries, or InvalidOrder."""
        if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN or token.count(".") != 1:
            raise InvalidOrder("not an order token")
        body, mac = token.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac("order", body).encode()):
            raise InvalidOrder("the order's signature does not match")
        try:
            data = json.loads(_unb64(body))
            order = Order(**data)
        except (ValueError, TypeError, binascii.Error):
            raise InvalidOrder("the order is malformed") from None
        order.check()
        if order.expires_at < self._clock():
            raise InvalidOrder("the order has expired")
        return order

    # -- CSRF --------------------------------------------------------------------------------
    @staticmethod
    def new_csrf_cookie() -> str:
        return secrets.token_urlsafe(32)

    def csrf_token(self, cookie: str) -> str:
        """The hidden form field that goes with the ``cookie`` value."""
        return self._mac("csrf", cookie)

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token or len(cookie) > 128 or len(token) > 128:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(cookie).encode())


def same_origin(header: str | None, public_origin: str) -> bool:
    """Whether an ``Origin`` (or ``Referer``) header names the app's public origin."""
    if not header:
        return False
    from urllib.parse import urlsplit

    parts = urlsplit(header.strip())
    if not parts.scheme or not parts.netloc:
        return False
    return f"{parts.scheme}://{parts.netloc}".lower() == public_origin.lower()


class LedgerFailureLimiter:
    """Failed checkout attempts per client in a sliding window, counted in the ledger.

    Every web process (and a restarted one) shares the counts, because they are rows of the
    ledger's ``checkout_failures`` table (:mod:`payflows.ledger.throttle`), not a dict in
    memory. ``await blocked(client)`` is the number of seconds until the client may try again
    (0: now); ``await record_failure(client)`` counts one failure. Both run their query in a
    worker thread, so the event loop never waits on the database. Rows older than the window
    are deleted now and then (at most every ``prune_every_seconds`` per process).

    ``clock`` is Unix time (``time.time``): wall-clock time, because processes compare it.
    Every instance must run with the same limit and window (they share one table).
    """

    def __init__(
        self,
        engine: Engine,
        max_failures: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
        prune_every_seconds: float = 60.0,
    ) -> None:
        if max_failures < 1 or window_seconds <= 0:
            raise ValueError("the checkout failure limit and window must be positive")
        self.engine = engine
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_seconds)
        self.clock = clock
        self.prune_every = prune_every_seconds
        self._pruned_at: float | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _blocked(self, client: str) -> float:
        now = self._now()
        with UnitOfWork(self.engine) as uow:
            oldest = blocked_until(uow, client, since=now - self.window, limit=self.max_failures)
        if oldest is None:
            return 0.0
        return max(1.0, (oldest + self.window - now).total_seconds())

    def _record(self, client: str) -> None:
        now = self._now()
        prune = self._pruned_at is None or self.clock() - self._pruned_at >= self.prune_every
        with UnitOfWork(self.engine) as uow:
            record_failure(uow, client, now)
            if prune:
                prune_failures(uow, now - self.window)
            uow.commit()
        if prune:
            self._pruned_at = self.clock()

    async def blocked(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0.0 when it may now."""
        return await asyncio.to_thread(self._blocked, client)

    async def record_failure(self, client: str) -> None:
        """Count one failure of ``client`` now (a decline, an invalid card, a refused order)."""
        await asyncio.to_thread(self._record, client)
