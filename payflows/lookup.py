"""Find a payment the way an operator asks for it, and say what can be done with it.

An operator has an order id, a customer's email, the last four digits of a card or a purchase
id; :func:`find_payments` recognises which one and returns every payment it matches, each with
its status, decline reason, amounts, refunds and hold, and the actions the payment still
allows (capture or void a hold, refund or cancel a paid purchase). Read-only and Prefect-free:
the lookup flow (``flows/lookup.py``) and the web app's operator pages both show these views.

A card number typed into the search box is refused (:class:`LookupRefused`) before any query
runs: it must not end up in a flow run's parameters, a log or an artifact.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel
from sqlmodel import col, or_, select

from payflows.domain.money import format_amount
from payflows.domain.screening import contains_card_number
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    Customer,
    Hold,
    HoldDecision,
    PaymentAttempt,
    Refund,
    RefundStatus,
    UnitOfWork,
)

__all__ = [
    "QUERY_PATTERN",
    "LookupRefused",
    "PaymentView",
    "RefundView",
    "find_payments",
    "looks_like_card_number",
    "query_kind",
]

#: Attempts that create a purchase (captures, refunds... act on one of these).
_ORIGINS = (AttemptKind.ZERO_AUTH, AttemptKind.PREAUTH, AttemptKind.CIT, AttemptKind.MIT)
#: What a search may look like, as a JSON-schema pattern (no look-around, so Prefect's form and
#: pydantic both apply it): a UUID purchase id or run id (a business key prefix allowed), or any
#: text with at most 11 digits. A card number matches neither, so the form refuses it before
#: Prefect stores the parameters.
QUERY_PATTERN = (
    r"^(?:[A-Za-z0-9._-]*:)?(?:run-)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$|^[^0-9]*(?:[0-9][^0-9]*){0,11}$"
)
_OPEN_HOLD = {"hold", "preauthorized"}


class LookupRefused(ValueError):
    """The query cannot be run (empty, too long, or a card number)."""


def looks_like_card_number(text: str) -> bool:
    """A Luhn-valid run of 12-19 digits, whatever separates them (the core's screening rule)."""
    return contains_card_number(text)


def query_kind(query: str) -> str:
    """``last4``, ``email`` or ``id`` (an order id, business key or purchase id)."""
    text = query.strip()
    if not text or len(text) > 200:
        raise LookupRefused("give an order id, email, last four card digits or purchase id")
    if looks_like_card_number(text):
        raise LookupRefused("that looks like a card number: search by its last four digits")
    if re.fullmatch(r"\d{4}", text):
        return "last4"
    if "@" in text:
        return "email"
    return "id"


class RefundView(BaseModel):
    refund_id: str
    amount: str
    status: str


class PaymentView(BaseModel):
    """One payment as an operator reads it: no card data (brand and masked PAN only)."""

    business_key: str
    kind: str
    outcome: str
    purchase_id: str | None
    purchase_status: str | None
    amount_cents: int
    currency: str
    amount: str
    decline_code: str | None
    card: str | None
    email: str | None
    created_at: datetime
    paid: str | None
    refunded: str | None
    refunds: list[RefundView]
    hold_expires_at: datetime | None
    hold_decision: str | None
    captured: str | None
    actions: list[str]


def _outcome(attempt: PaymentAttempt) -> str:
    if attempt.state is AttemptState.DECLINED:
        return f"declined {attempt.decline_code or ''}".strip()
    if attempt.state in {AttemptState.UNKNOWN, AttemptState.SUBMITTED}:
        return "unknown (being read back)" if not attempt.purchase_status else attempt.state.value
    return attempt.state.value


def _actions(attempt: PaymentAttempt, hold: Hold | None, refundable: int) -> list[str]:
    """What an operator may still do: the hold's status rules a pre-authorisation."""
    status = attempt.purchase_status.value if attempt.purchase_status else ""
    if hold is not None:
        status = hold.status.value
    if status in _OPEN_HOLD:
        return ["capture", "void"]
    if status == "paid" and attempt.amount_cents > 0:
        return ["refund", "cancel"] if refundable > 0 else ["cancel"]
    if status in {"settled", "cleared"} and refundable > 0:
        return ["refund"]
    return []


def _view(uow: UnitOfWork, attempt: PaymentAttempt, email: str | None) -> PaymentView:
    cur = attempt.currency
    money = lambda cents: format_amount(cents, cur) if cents is not None else None  # noqa: E731
    refunds: list[Refund] = []
    hold = None
    if attempt.purchase_id:
        refunds = list(
            uow.session.exec(select(Refund).where(Refund.purchase_id == attempt.purchase_id)).all()
        )
        hold = uow.session.exec(select(Hold).where(Hold.purchase_id == attempt.purchase_id)).first()
    live = [r for r in refunds if r.status not in {RefundStatus.CANCELLED, RefundStatus.FAILED}]
    refunded = sum(r.amount_cents for r in live)
    paid = attempt.paid_cents
    if (
        paid is None
        and attempt.state is AttemptState.SUCCEEDED
        and attempt.kind is not AttemptKind.PREAUTH
    ):
        paid = attempt.amount_cents
    if hold is not None:
        paid = hold.captured_cents or None
    card = " ".join(x for x in (attempt.brand, attempt.masked_pan) if x) or None
    return PaymentView(
        business_key=attempt.business_key,
        kind=attempt.kind.value,
        outcome=_outcome(attempt),
        purchase_id=attempt.purchase_id,
        purchase_status=(
            hold.status.value
            if hold is not None
            else attempt.purchase_status.value
            if attempt.purchase_status
            else None
        ),
        amount_cents=attempt.amount_cents,
        currency=cur,
        amount=format_amount(attempt.amount_cents, cur),
        decline_code=attempt.decline_code,
        card=card,
        email=email,
        created_at=attempt.created_at,
        paid=money(paid),
        refunded=money(refunded) if refunds else None,
        refunds=[
            RefundView(
                refund_id=r.refund_id,
                amount=format_amount(r.amount_cents, r.currency),
                status=r.status.value,
            )
            for r in refunds
        ],
        hold_expires_at=hold.expires_at if hold is not None else None,
        hold_decision=hold.decision.value
        if hold and hold.decision is not HoldDecision.NONE
        else None,
        captured=money(hold.captured_cents) if hold is not None and hold.captured_cents else None,
        actions=_actions(attempt, hold, (paid or 0) - refunded),
    )


def find_payments(uow: UnitOfWork, query: str, *, limit: int = 50) -> list[PaymentView]:
    """The payments ``query`` matches, newest first (at most ``limit``)."""
    kind = query_kind(query)
    text = query.strip()
    stmt = select(PaymentAttempt, Customer.email).join(
        Customer, col(Customer.id) == col(PaymentAttempt.customer_id), isouter=True
    )
    stmt = stmt.where(col(PaymentAttempt.kind).in_(_ORIGINS))
    if kind == "last4":
        stmt = stmt.where(col(PaymentAttempt.masked_pan).like(f"%{text}"))
    elif kind == "email":
        stmt = stmt.where(col(Customer.email).ilike(text))
    else:
        stmt = stmt.where(
            or_(
                col(PaymentAttempt.purchase_id) == text,
                col(PaymentAttempt.business_key) == text,
                col(PaymentAttempt.business_key).like(f"%:{text}"),
                col(PaymentAttempt.business_key).like(f"%:{text}:%"),
            )
        )
    stmt = stmt.order_by(col(PaymentAttempt.created_at).desc()).limit(limit)
    return [_view(uow, attempt, email) for attempt, email in uow.session.exec(stmt).all()]
