"""The webhook receiver's core: which keys may sign a delivery, and what a delivery changes.

Precium delivers each event at least once, in order per purchase but with retries that can land
late, and anyone can POST to a webhook URL. So a delivery is first checked against every key that
may have signed it (the public key of each webhook registered through payflows, kept in a small
JSON file, and the gateway's company key that signs success callbacks), then stored once under
the sha256 of its raw body, then applied through the ledger's state table, which ignores a report
that lies behind what the ledger already knows. Storing, applying and flagging happen in one
transaction: a crash half way leaves nothing, and the gateway's redelivery does the work again.

This module is Prefect-free; :mod:`apps.web.app` adds the HTTP surface and the Prefect event.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from payflows.domain.states import Status
from payflows.gateway import Webhook, WebhookEvent, verify_signature
from payflows.ledger import (
    AttemptKind,
    Hold,
    PaymentAttempt,
    RefundStatus,
    UnitOfWork,
    apply_gateway_status,
    get_attempt,
    mark_webhook_applied,
    record_refund,
    record_webhook_event,
    webhook_dedupe_key,
)
from payflows.ledger.cards import (
    card_by_token,
    keep_network_transaction_id,
    mark_card_deleted,
    record_decline_code,
)
from payflows.ledger.models import Refund as LedgerRefund
from payflows.ledger.models import WebhookEvent as StoredEvent
from payflows.ledger.settlement import record_settlements
from payflows.payments import settlement_of

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


def _known(uow: UnitOfWork, purchase_id: str) -> bool:
    attempt = uow.session.exec(
        select(PaymentAttempt.id).where(
            (PaymentAttempt.purchase_id == purchase_id)
            | (PaymentAttempt.related_purchase_id == purchase_id)
        )
    ).first()
    if attempt is not None:
        return True
    return (
        uow.session.exec(select(Hold.id).where(Hold.purchase_id == purchase_id)).first() is not None
    )


def _refund_attempt(uow: UnitOfWork, purchase_id: str, amount: int) -> int | None:
    """The ledger's refund attempt a ``payment.refunded`` most likely answers, if any.

    A refund whose answer was lost is settled from the purchase, without its id; the webhook then
    brings the id. The match is the oldest refund attempt on the purchase of that amount that has
    no refund row yet.
    """
    linked = set(
        uow.session.exec(
            select(LedgerRefund.attempt_id).where(
                LedgerRefund.purchase_id == purchase_id,
                LedgerRefund.attempt_id.is_not(None),  # type: ignore[union-attr]
            )
        ).all()
    )
    candidates = uow.session.exec(
        select(PaymentAttempt)
        .where(
            PaymentAttempt.related_purchase_id == purchase_id,
            PaymentAttempt.kind == AttemptKind.REFUND,
            PaymentAttempt.amount_cents == amount,
        )
        .order_by(PaymentAttempt.id)  # type: ignore[arg-type]
    ).all()
    for attempt in candidates:
        if attempt.id not in linked:
            return attempt.id
    return None


_PAID_LIKE = (Status.PAID, Status.CLEARED, Status.SETTLED)


def _refunded_cents(uow: UnitOfWork, purchase_id: str) -> int:
    amounts = uow.session.exec(
        select(LedgerRefund.amount_cents).where(
            LedgerRefund.purchase_id == purchase_id,
            LedgerRefund.status != RefundStatus.CANCELLED,
        )
    ).all()
    return sum(amounts)


def _paid_cents(uow: UnitOfWork, purchase_id: str) -> int | None:
    hold = uow.session.exec(select(Hold).where(Hold.purchase_id == purchase_id)).first()
    if hold is not None and hold.captured_cents:
        return hold.captured_cents
    attempt = get_attempt(uow, purchase_id=purchase_id)
    return attempt.amount_cents if attempt is not None else None


def _status_before_refund(uow: UnitOfWork, purchase_id: str) -> Status:
    """Where a partly refunded purchase went back to: the last paid-like status reported."""
    last = uow.session.exec(
        select(StoredEvent.status)
        .where(
            StoredEvent.purchase_id == purchase_id,
            StoredEvent.status.in_([s.value for s in _PAID_LIKE]),  # type: ignore[union-attr]
        )
        .order_by(StoredEvent.event_at.desc(), StoredEvent.id.desc())  # type: ignore[union-attr]
    ).first()
    return Status(last) if last else Status.PAID


def _refund_concluded(uow: UnitOfWork, purchase_id: str, at: datetime) -> bool:
    """Move the purchase out of ``pending_refund`` now that a refund on it has landed.

    CHIP announces a refund with ``payment.refunded`` (the refund's payment object, which carries
    no purchase status) after ``purchase.pending_refund``. The purchase is then ``refunded`` if
    nothing is left to refund, else back where it was (``paid``/``cleared``/``settled``). The
    refund is, by definition, later than the ``pending_refund`` it ends, even when both carry
    the same second: the report is timed just after the status it replaces.
    """
    attempt = get_attempt(uow, purchase_id=purchase_id)
    hold = uow.session.exec(select(Hold).where(Hold.purchase_id == purchase_id)).first()
    rows: list[tuple[Status | None, datetime | None]] = []
    if attempt is not None:
        rows.append((attempt.purchase_status, attempt.status_at))
    if hold is not None:
        rows.append((hold.status, hold.status_at))
    if not rows:
        return False
    paid = _paid_cents(uow, purchase_id)
    if paid is not None and _refunded_cents(uow, purchase_id) >= paid:
        target = Status.REFUNDED
    elif any(status is Status.PENDING_REFUND for status, _ in rows):
        target = _status_before_refund(uow, purchase_id)
    else:
        return False
    latest = max((when for _, when in rows if when is not None), default=at)
    when = max(at, latest + timedelta(microseconds=1))
    return apply_gateway_status(uow, purchase_id, target, when)


def _stale_pending_refund(uow: UnitOfWork, purchase_id: str, at: datetime) -> bool:
    """A ``pending_refund`` older than a refund the ledger already saw land is old news."""
    newer = uow.session.exec(
        select(LedgerRefund.id).where(
            LedgerRefund.purchase_id == purchase_id,
            LedgerRefund.created_at >= at,
        )
    ).first()
    return newer is not None


def _apply(
    uow: UnitOfWork, event: WebhookEvent, status: Status | None, at: datetime
) -> tuple[bool, bool]:
    """(applied, changed) for one new delivery."""
    pid = event.purchase_id
    if pid is None:
        return False, False
    if event.event_type == "payment.refunded":
        return _apply_refund(uow, event, pid, at)
    purchase = event.purchase
    card_changed = _apply_card_facts(uow, event, pid, at)
    if not _known(uow, pid):
        # A card the ledger holds (imported, say) without the purchase that saved it.
        return card_changed or _card_known(uow, pid), card_changed
    if event.event_type == "purchase.payment_failure" and purchase is not None:
        decline = purchase.last_error
        if decline is not None:
            card_changed = (
                record_decline_code(
                    uow,
                    pid,
                    decline.code,
                    network_code=decline.network_code,
                    advice_code=decline.advice_code,
                )
                or card_changed
            )
    if status is None:
        return True, card_changed
    if status is Status.PENDING_REFUND and _stale_pending_refund(uow, pid, at):
        return True, False
    amount = event.amount if status is Status.PAID else None
    changed = apply_gateway_status(uow, pid, status, at, amount_cents=amount) or card_changed
    if event.purchase is not None:
        # Paid amount, fee, net and settlement date ride on the purchase object (CHIP shape).
        report = settlement_of(event.purchase)
        if status is Status.SETTLED and report.settled_at is None:
            report = replace(report, settled_at=at)
        changed = bool(record_settlements(uow, [report])) or changed
    return True, changed


_TOKEN_DELETE_EVENTS = frozenset(
    {"purchase.pending_recurring_token_delete", "purchase.recurring_token_deleted"}
)


def _card_known(uow: UnitOfWork, token: str) -> bool:
    return card_by_token(uow, token) is not None


def _apply_card_facts(uow: UnitOfWork, event: WebhookEvent, pid: str, at: datetime) -> bool:
    """What a purchase delivery says of the stored card that purchase is (its token).

    A token deletion, whoever asked for it, marks the card deleted from the first of the two
    events on (billing stops charging it at once). Any body also offers the network
    transaction id of the card's first payment, kept if the ledger has none yet.
    """
    changed = False
    purchase = event.purchase
    deleted = event.event_type in _TOKEN_DELETE_EVENTS or (
        purchase is not None and purchase.token_deleted
    )
    if deleted:
        changed = mark_card_deleted(uow, pid, at)
    if purchase is not None and purchase.saved_token is not None:
        ntid = purchase.network_transaction_id
        changed = keep_network_transaction_id(uow, pid, ntid) or changed
    return changed


def _apply_refund(
    uow: UnitOfWork, event: WebhookEvent, pid: str, at: datetime
) -> tuple[bool, bool]:
    """A ``payment.refunded``: the refund's own payment object (CHIP) or the guide's envelope.

    A refund of a purchase the ledger never made is stored (by the caller) but not applied:
    reconciliation lists it, and no refund row claims money the ledger never took. A refund the
    gateway reports done (``success``; the guide's envelope, which carries no refund status,
    reports one that happened) moves the ledger's refund from ``pending`` to ``settled``.
    """
    if not event.refund_id or event.amount is None or not event.currency:
        return False, False
    if not _known(uow, pid):
        return False, False
    existed = uow.session.exec(
        select(LedgerRefund).where(LedgerRefund.refund_id == event.refund_id)
    ).first()
    before = existed.status if existed is not None else None
    attempt_id = None if existed is not None else _refund_attempt(uow, pid, event.amount)
    word = event.refund_status
    if word == "cancelled":
        status = RefundStatus.CANCELLED
    elif word is None or word in {"success", "refunded"}:
        status = RefundStatus.SETTLED
    else:
        status = RefundStatus.PENDING
    refund = record_refund(
        uow,
        event.refund_id,
        pid,
        event.amount,
        event.currency,
        status=status,
        created_at=at,
        settled_at=at if status is RefundStatus.SETTLED else None,
        cancelled_at=at if status is RefundStatus.CANCELLED else None,
        attempt_id=attempt_id,
    )
    moved = _refund_concluded(uow, pid, at)
    return True, existed is None or refund.status != before or moved


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
        applied, changed = _apply(uow, event, status, at)
        if applied:
            mark_webhook_applied(uow, key)
        uow.commit()
    return Delivery(key, event, status, at, duplicate=False, applied=applied, changed=changed)
