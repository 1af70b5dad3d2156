"""What one verified webhook delivery changes in the ledger, as the platform means it.

:mod:`payflows.webhooks` stores each delivery once and calls :func:`apply_event` in the same
transaction. Purchase statuses move through the ledger's state table (a late report changes
nothing); a ``payment.refunded`` records the refund (done when the platform says ``success``) and
ends ``pending_refund``, but only for a purchase the ledger made; a failure keeps its decline code
(``attempts[0].error.code``); a token deletion, whoever asked for it, marks the stored card
deleted; and the saving purchase's network transaction id is kept if the ledger has none.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import select

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
    record_refund,
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

__all__ = ["apply_event"]


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


def apply_event(
    uow: UnitOfWork, event: WebhookEvent, status: Status | None, at: datetime
) -> tuple[bool, bool]:
    """(applied, changed) for one new delivery: whether the ledger knew what it is about, and
    whether anything moved."""
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
    if event.event_type in _FAILURE_EVENTS and purchase is not None:
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


#: Deliveries whose body carries the decline in ``transaction_data.attempts[0].error``.
_FAILURE_EVENTS = frozenset({"purchase.payment_failure", "purchase.subscription_charge_failure"})
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
