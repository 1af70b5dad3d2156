"""Purchase statuses as the gateway reports them (webhooks, read-backs), applied to the ledger.

A status moves a purchase only forward along the purchase state table
(:func:`payflows.domain.can_reach`): webhooks arrive at least once and may arrive late, and an
old ``hold`` must never overwrite a newer ``paid``. A status that is news also moves the attempt
that created the purchase, by the attempt state table
(:func:`payflows.domain.attempts.event_for_status`: ``paid`` succeeds it, ``error`` declines it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from payflows.domain.attempts import event_for_status
from payflows.domain.states import Status, can_reach
from payflows.ledger._common import aware, cents, chunks
from payflows.ledger.attempt_moves import attempts_by, move
from payflows.ledger.db import UnitOfWork
from payflows.ledger.models import Hold, PaymentAttempt, utcnow

__all__ = [
    "StatusReport",
    "advance",
    "apply_gateway_status",
    "apply_gateway_statuses",
    "apply_reports",
    "holds_by_purchase",
]


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A purchase status as a webhook or a read-back told it."""

    purchase_id: str
    status: Status | str
    observed_at: datetime
    #: The purchase's paid amount, when the report carries it (sets a hold's captured amount).
    amount_cents: int | None = None


def _is_news(
    current: Status | None, current_at: datetime | None, new: Status, observed_at: datetime
) -> bool:
    """Whether ``new`` lies ahead of ``current`` in the state table.

    The table has a few cycles (``error`` -> ``pending_execute`` -> ``error``: a payer trying
    again); only there do the timestamps decide which report is the later one.
    """
    if current is None:
        return True
    if new == current or not can_reach(current, new):
        return False
    if can_reach(new, current):
        return current_at is None or observed_at > current_at
    return True


def advance(row: PaymentAttempt | Hold, new: Status, observed_at: datetime, now: datetime) -> bool:
    current = row.purchase_status if isinstance(row, PaymentAttempt) else row.status
    if not _is_news(current, row.status_at, new, observed_at):
        return False
    if isinstance(row, PaymentAttempt):
        row.purchase_status = new
    else:
        row.status = new
    row.status_at = observed_at
    row.updated_at = now
    return True


def holds_by_purchase(uow: UnitOfWork, purchase_ids: Iterable[str]) -> dict[str, Hold]:
    ids = list(dict.fromkeys(purchase_ids))
    found: dict[str, Hold] = {}
    for chunk in chunks(ids):
        for hold in uow.session.exec(select(Hold).where(col(Hold.purchase_id).in_(chunk))):
            found[hold.purchase_id] = hold
    return found


def apply_reports(uow: UnitOfWork, reports: Sequence[StatusReport], now: datetime) -> list[str]:
    attempts = attempts_by(uow, PaymentAttempt.purchase_id, (r.purchase_id for r in reports))
    holds = holds_by_purchase(uow, (r.purchase_id for r in reports))
    changed: list[str] = []
    for report in reports:
        status = Status(report.status)
        at = aware(report.observed_at, "observed_at")
        moved = False
        attempt = attempts.get(report.purchase_id)
        if attempt is not None and advance(attempt, status, at, now):
            moved = True
            event = event_for_status(status)
            if event is not None:
                move(attempt, event, now)
        hold = holds.get(report.purchase_id)
        if hold is not None:
            if advance(hold, status, at, now):
                moved = True
            paid = report.amount_cents
            if status == Status.PAID and paid is not None and hold.captured_cents != cents(paid):
                hold.captured_cents = paid
                hold.updated_at = now
                moved = True
        if moved and report.purchase_id not in changed:
            changed.append(report.purchase_id)
    return changed


def apply_gateway_status(
    uow: UnitOfWork,
    purchase_id: str,
    status: Status | str,
    observed_at: datetime,
    *,
    amount_cents: int | None = None,
) -> bool:
    """Apply a reported purchase status to its attempt and hold, if it is news.

    Returns False for a duplicate, a late report (``hold`` after ``paid``) or a purchase the
    ledger does not know: nothing moves backwards. A status that settles the purchase also
    settles the attempt that created it (``paid`` -> succeeded, ``error`` -> declined).
    """
    report = StatusReport(purchase_id, status, observed_at, amount_cents)
    changed = apply_reports(uow, [report], utcnow())
    uow.session.flush()
    return bool(changed)


def apply_gateway_statuses(uow: UnitOfWork, reports: Iterable[StatusReport]) -> list[str]:
    """:func:`apply_gateway_status` for a batch of read-backs; returns the purchase ids moved.

    Reports are applied in the order given, so several reports for one purchase may be passed.
    """
    reports = list(reports)
    changed = apply_reports(uow, reports, utcnow()) if reports else []
    uow.session.flush()
    return changed
