"""The webhook receiver's core: which keys may sign a delivery, and what a delivery changes.

Precium delivers each event at least once, in order per purchase but with retries that can land
late, and anyone can POST to a webhook URL. So a delivery is first checked against every key that
may have signed it (the public key of each webhook registered through payflows, kept in a small
JSON file, and the gateway's company key that signs success callbacks), then stored once under
the sha256 of its raw body, then applied through the ledger's state table, which ignores a report
that lies behind what the ledger already knows. Storing, applying and flagging happen in one
transaction: a crash half way leaves nothing, and the gateway's redelivery does the work again.

A verified delivery that cannot be read (not JSON, nested too deep, ``related_to`` not an
object, an amount beyond :data:`~payflows.domain.money.MAX_CENTS`, ids too long) or applied is
not refused: refusing makes the gateway redeliver it for days. :func:`read_event` raises
:class:`UnreadableDelivery` with a reason that quotes nothing of the body, and
:func:`store_unapplied` keeps the delivery (its dedupe key, the reason, its size; never the
body) unapplied for an operator to look at: ``webhook_events`` rows with ``applied = false``
and a ``held`` reason in their payload.

This module is Prefect-free; :mod:`apps.web.app` adds the HTTP surface and the Prefect event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from payflows.domain.money import MAX_CENTS
from payflows.domain.screening import contains_card_number
from payflows.domain.states import Status
from payflows.gateway import WebhookEvent
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
from payflows.ledger.models import Refund as LedgerRefund
from payflows.ledger.models import WebhookEvent as StoredEvent
from payflows.ledger.settlement import record_settlements
from payflows.payments import settlement_of
from payflows.webhook_keys import COMPANY_KEY, RegisteredWebhook, WebhookKeyStore

__all__ = [
    "COMPANY_KEY",
    "Delivery",
    "RegisteredWebhook",
    "UnreadableDelivery",
    "WebhookKeyStore",
    "event_payload",
    "ledger_status",
    "read_event",
    "store_and_apply",
    "store_unapplied",
]

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
        if not event.refund_id or event.amount is None or not event.currency:
            return False, False
        existed = uow.session.exec(
            select(LedgerRefund.id).where(LedgerRefund.refund_id == event.refund_id)
        ).first()
        attempt_id = None if existed is not None else _refund_attempt(uow, pid, event.amount)
        record_refund(
            uow,
            event.refund_id,
            pid,
            event.amount,
            event.currency,
            created_at=at,
            attempt_id=attempt_id,
        )
        moved = _refund_concluded(uow, pid, at)
        return True, existed is None or moved
    if not _known(uow, pid):
        return False, False
    if status is None:
        return True, False
    if status is Status.PENDING_REFUND and _stale_pending_refund(uow, pid, at):
        return True, False
    amount = event.amount if status is Status.PAID else None
    changed = apply_gateway_status(uow, pid, status, at, amount_cents=amount)
    if event.purchase is not None:
        # Paid amount, fee, net and settlement date ride on the purchase object (CHIP shape).
        report = settlement_of(event.purchase)
        if status is Status.SETTLED and report.settled_at is None:
            report = replace(report, settled_at=at)
        changed = bool(record_settlements(uow, [report])) or changed
    return True, changed


class UnreadableDelivery(ValueError):
    """A verified delivery payflows cannot read; the message quotes nothing of the body."""


#: Longest id or event type the ledger stores (its columns' sizes).
_MAX_ID = 64


def read_event(raw_body: bytes) -> WebhookEvent:
    """The event of a (verified) body, or :class:`UnreadableDelivery` saying why not."""
    try:
        event = WebhookEvent.parse(raw_body)
    except RecursionError:
        raise UnreadableDelivery("the body is nested too deeply") from None
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise UnreadableDelivery(
            f"the body is not a webhook event ({type(exc).__name__})"
        ) from None
    if event.amount is not None and not -MAX_CENTS <= event.amount <= MAX_CENTS:
        raise UnreadableDelivery("the amount is out of range")
    for name in ("event_type", "purchase_id", "refund_id", "currency"):
        value = getattr(event, name, None)
        if value is not None and (len(str(value)) > _MAX_ID or contains_card_number(str(value))):
            raise UnreadableDelivery(f"{name} is too long or malformed")
    return event


def store_unapplied(
    engine: Engine,
    raw_body: bytes,
    *,
    reason: str,
    event_type: str | None = None,
    received_at: datetime | None = None,
) -> bool:
    """Keep a verified delivery that could not be applied, for an operator; False if repeated.

    Stored under the same dedupe key as any delivery (a redelivery is recognised), with
    ``applied = false``, the reason and the body's size, and not the body itself.
    """
    received_at = received_at or datetime.now(UTC)
    key = webhook_dedupe_key(raw_body)
    kind = event_type if event_type and len(event_type) <= _MAX_ID else "unreadable"
    with UnitOfWork(engine) as uow:
        fresh = record_webhook_event(
            uow,
            key,
            event_type=kind,
            payload={"held": reason[:200], "bytes": len(raw_body), "dedupe_key": key},
            received_at=received_at,
        )
        uow.commit()
    return fresh


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
