"""The webhook receiver's core: which keys may sign a delivery, and what a delivery changes.

Precium delivers each event at least once, in order per purchase but with retries that can land
late, and anyone can POST to a webhook URL. So a delivery is first checked against every key that
may have signed it (the public key of each webhook registered through payflows, kept in a small
JSON file, and the gateway's company key that signs success callbacks), then stored once under
the sha256 of its raw body, then applied through the ledger's state table, which ignores a report
that lies behind what the ledger already knows. Storing, applying and flagging happen in one
transaction: a crash half way leaves nothing, and the gateway's redelivery does the work again.
What each event changes is :mod:`payflows.webhook_effects`.

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

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from payflows.domain.money import MAX_CENTS
from payflows.domain.screening import contains_card_number
from payflows.domain.states import Status
from payflows.gateway import WebhookEvent
from payflows.ledger import (
    UnitOfWork,
    mark_webhook_applied,
    record_webhook_event,
    webhook_dedupe_key,
)
from payflows.webhook_effects import apply_event
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
        applied, changed = apply_event(uow, event, status, at)
        if applied:
            mark_webhook_applied(uow, key)
        uow.commit()
    return Delivery(key, event, status, at, duplicate=False, applied=applied, changed=changed)
