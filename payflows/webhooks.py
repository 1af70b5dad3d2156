"""The webhook receiver's core: which keys may sign a delivery, and what a delivery changes.

Precium delivers each event at least once, in order per purchase but with retries that can land
late, and anyone can POST to a webhook URL. So a delivery is first checked against every key that
may have signed it (the public key of each webhook registered through payflows, kept in a small
JSON file, and the gateway's company key that signs success callbacks), then stored once under
the sha256 of its raw body, then applied through the ledger's state table, which ignores a report
that lies behind what the ledger already knows. Storing, applying and flagging happen in one
transaction: a crash half way leaves nothing, and the gateway's redelivery does the work again.
What each event changes is :mod:`payflows.webhook_effects`.

This module is Prefect-free; :mod:`apps.web.app` adds the HTTP surface and the Prefect event.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from payflows.domain.states import Status
from payflows.gateway import Webhook, WebhookEvent, verify_signature
from payflows.ledger import (
    UnitOfWork,
    mark_webhook_applied,
    record_webhook_event,
    webhook_dedupe_key,
)
from payflows.webhook_effects import apply_event

__all__ = [
    "COMPANY_KEY",
    "Delivery",
    "RegisteredWebhook",
    "WebhookKeyStore",
    "event_payload",
    "ledger_status",
    "store_and_apply",
]

#: The name :meth:`WebhookKeyStore.verify` gives the gateway's company key.
COMPANY_KEY = "company"

# After a failed ``GET /public_key/`` the receiver does not ask again for this long, so a flood
# of forged deliveries cannot turn into a flood of calls to the gateway.
_COMPANY_KEY_RETRY_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RegisteredWebhook:
    """A webhook created at the gateway through payflows: what its deliveries are checked with."""

    id: str
    callback: str
    public_key: str
    events: tuple[str, ...] = ()
    all_events: bool = False
    registered_at: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "callback": self.callback,
            "events": list(self.events),
            "all_events": self.all_events,
            "registered_at": self.registered_at,
            "public_key": self.public_key,
        }


class WebhookKeyStore:
    """The public keys that may sign a delivery.

    Registered webhooks live in a JSON file (``PAYFLOWS_WEBHOOK_KEYS_FILE``,
    ``{"webhooks": [{id, callback, events, all_events, registered_at, public_key}]}``) that the
    ``register-webhook`` command writes and the receiver re-reads whenever it changes, so a
    webhook registered while the web app runs is trusted at once. Public keys are not secrets;
    the file needs no protection beyond its integrity. The company key is fetched from the gateway
    the first time a delivery is signed by none of the registered keys, then kept.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fetch_company_key: Callable[[], Awaitable[str]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._fetch_company_key = fetch_company_key
        self._clock = clock
        self._company_key: str | None = None
        self._company_failed_at: float | None = None
        self._company_lock = asyncio.Lock()
        self._cached: tuple[tuple[int, int], list[RegisteredWebhook]] | None = None

    # -- registered webhooks -------------------------------------------------------------------

    def registered(self) -> list[RegisteredWebhook]:
        """The registered webhooks, re-read only when the file changed."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._cached is not None and self._cached[0] == stamp:
            return self._cached[1]
        hooks = self._read()
        self._cached = (stamp, hooks)
        return hooks

    def _read(self) -> list[RegisteredWebhook]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        hooks = []
        for item in data.get("webhooks", []) if isinstance(data, dict) else []:
            if not isinstance(item, dict) or not item.get("public_key") or not item.get("id"):
                continue
            hooks.append(
                RegisteredWebhook(
                    id=str(item["id"]),
                    callback=str(item.get("callback", "")),
                    public_key=str(item["public_key"]),
                    events=tuple(item.get("events") or ()),
                    all_events=bool(item.get("all_events", False)),
                    registered_at=str(item.get("registered_at", "")),
                )
            )
        return hooks

    def add(self, webhook: Webhook) -> RegisteredWebhook:
        """Remember a webhook just created at the gateway (replacing one with the same id)."""
        if not webhook.public_key:
            raise ValueError(f"webhook {webhook.id} came back without a public_key")
        entry = RegisteredWebhook(
            id=webhook.id,
            callback=webhook.callback or "",
            public_key=webhook.public_key,
            events=tuple(webhook.events),
            all_events=webhook.all_events,
            registered_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        hooks = [h for h in self._read() if h.id != webhook.id] + [entry]
        self._write(hooks)
        return entry

    def _write(self, hooks: list[RegisteredWebhook]) -> None:
        # Write-then-rename: a receiver reading the file mid-write sees the old or the new one.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"webhooks": [h.as_json() for h in hooks]}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._cached = None

    # -- the company key -----------------------------------------------------------------------

    async def company_key(self) -> str | None:
        """The gateway's company key, fetched once; None while the gateway cannot be asked."""
        if self._company_key is not None or self._fetch_company_key is None:
            return self._company_key
        async with self._company_lock:
            if self._company_key is not None:
                return self._company_key
            failed = self._company_failed_at
            if failed is not None and self._clock() - failed < _COMPANY_KEY_RETRY_SECONDS:
                return None
            try:
                self._company_key = await self._fetch_company_key()
            except Exception:
                self._company_failed_at = self._clock()
                return None
            return self._company_key

    # -- verification --------------------------------------------------------------------------

    async def verify(self, body: bytes, signature: str | None) -> str | None:
        """Which key signed ``body`` (a webhook id or :data:`COMPANY_KEY`), or None."""
        if not signature:
            return None
        for hook in self.registered():
            if verify_signature(body, signature, hook.public_key):
                return hook.id
        company = await self.company_key()
        if company is not None and verify_signature(body, signature, company):
            return COMPANY_KEY
        return None


# -- applying a delivery ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one verified delivery did. Holds no card data: ids, statuses, amounts."""

    dedupe_key: str
    event: WebhookEvent
    #: The purchase status the delivery reports, as the ledger reads it (``settled`` for a
    #: ``purchase.settled`` that still says ``paid``); None for events without one.
    status: Status | None
    occurred_at: datetime
    duplicate: bool
    #: Whether the ledger knew the purchase (or stored the refund). A delivery for a purchase
    #: the ledger never made stays stored with ``applied = false`` for reconciliation.
    applied: bool
    #: Whether the ledger's state moved (False for a late or repeated report).
    changed: bool


def ledger_status(event: WebhookEvent) -> Status | None:
    """The purchase status a delivery reports, in the ledger's terms.

    A ``purchase.settled`` event may still say ``paid`` (CHIP sends the purchase as it was, with
    ``transaction_data.extra.settlement``): it means settled. A chargeback event carries the
    payment, not the purchase; the purchase is then in ``chargeback``. Other payment events
    (a refund, a reversed chargeback) report no purchase status: partial or not, the refund
    itself is what they record.
    """
    if event.event_type == "purchase.settled":
        return Status.SETTLED
    if event.event_type == "payment.charged_back":
        return Status.CHARGEBACK
    if event.event_type.startswith("payment."):
        return None
    return event.status


def _occurred_at(event: WebhookEvent, received_at: datetime) -> datetime:
    if event.event_type == "purchase.settled" and event.purchase is not None:
        settled = event.purchase.settled_on
        if settled is not None:
            return settled
    return event.occurred_at or received_at


def _summary(event: WebhookEvent, status: Status | None, at: datetime, key: str) -> dict[str, Any]:
    """What the ledger stores of a delivery: ids, statuses, amounts. Never the raw body.

    The raw body names the cardholder and the card's expiry; nothing the ledger does with an
    event needs them, so they are not kept.
    """
    return {
        "event_type": event.event_type,
        "purchase_id": event.purchase_id,
        "status": status.value if status else None,
        "reported_status": event.status.value if event.status else None,
        "amount_cents": event.amount,
        "currency": event.currency,
        "refund_id": event.refund_id,
        "occurred_at": at.isoformat(),
        "dedupe_key": key,
    }


def event_payload(delivery: Delivery) -> dict[str, Any]:
    """The payload of the Prefect event for a delivery: the stored summary and its effect."""
    summary = _summary(delivery.event, delivery.status, delivery.occurred_at, delivery.dedupe_key)
    return {**summary, "applied": delivery.applied, "changed": delivery.changed}


def store_and_apply(
    engine: Engine, raw_body: bytes, event: WebhookEvent, *, received_at: datetime | None = None
) -> Delivery:
    """Store a verified delivery once and apply it to the ledger, in one transaction."""
    received_at = received_at or datetime.now(UTC)
    key = webhook_dedupe_key(raw_body)
    status = ledger_status(event)
    at = _occurred_at(event, received_at)
    with UnitOfWork(engine) as uow:
        fresh = record_webhook_event(
            uow,
            key,
            event_type=event.event_type,
            purchase_id=event.purchase_id,
            status=status.value if status else None,
            event_at=at,
            payload=_summary(event, status, at, key),
            received_at=received_at,
        )
        if not fresh:
            uow.commit()
            return Delivery(key, event, status, at, duplicate=True, applied=False, changed=False)
        applied, changed = apply_event(uow, event, status, at)
        if applied:
            mark_webhook_applied(uow, key)
        uow.commit()
    return Delivery(key, event, status, at, duplicate=False, applied=applied, changed=changed)
