"""Payment attempts: the exactly-once protocol's durable steps, each one safe to run twice.

Precium has no idempotency key: the purchase id is the only handle on a payment, and a retried
step may run again after it already reached the gateway. Charging exactly once is therefore the
ledger's job, in four durable steps (each committed before the next gateway call):

1. :func:`record_intent` names the attempt by a business key (``sub:{id}:{period}``,
   ``cit:{order}``). Running it again returns the same attempt, never a second one.
2. :func:`attach_purchase` stores the purchase id before the gateway is asked to act on it. A
   second purchase for the same key is refused (:class:`PurchaseConflict`).
3. :func:`mark_submitted` says "the request may have reached the gateway".
4. :func:`record_outcome` stores the answer. An unresolved attempt (see
   :data:`~payflows.domain.attempts.UNRESOLVED`) is settled by reading the purchase back, never
   by sending the request again blindly.

Every state change goes through the attempt state table (:mod:`payflows.domain.attempts`, via
:func:`payflows.ledger.attempt_moves.move`); a move the table refuses is ignored, not an error,
so a late or duplicate answer never rewrites a settled one. Every function a pipeline calls once
per item has a plural twin taking a list; the grouped SQL forms are in
:mod:`payflows.ledger.grouped`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from payflows.domain.attempts import UNRESOLVED, AttemptEvent, event_to, may
from payflows.domain.money import validate_currency
from payflows.domain.states import Status
from payflows.ledger._common import aware, chunks, insert_for, masked, non_negative
from payflows.ledger.attempt_moves import attempts_by, move
from payflows.ledger.db import UnitOfWork
from payflows.ledger.errors import AttemptNotFound, LedgerError, PurchaseConflict
from payflows.ledger.models import AttemptKind, AttemptState, PaymentAttempt, utcnow
from payflows.ledger.statuses import StatusReport, advance, apply_reports, holds_by_purchase

__all__ = [
    "Intent",
    "Outcome",
    "attach_purchase",
    "attach_purchases",
    "get_attempt",
    "mark_submitted",
    "record_intent",
    "record_intents",
    "record_outcome",
    "record_outcomes",
    "require_attempt",
    "unresolved_attempts",
    "withdraw_intent",
]


@dataclass(frozen=True, slots=True)
class Intent:
    """What :func:`record_intents` should remember before anything is sent."""

    business_key: str
    kind: AttemptKind | str
    amount_cents: int
    currency: str
    customer_id: int | None = None
    subscription_id: int | None = None
    payment_method_id: int | None = None
    #: The existing purchase a capture, void or refund acts on.
    related_purchase_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """An answer for one attempt, named by ``business_key`` or ``purchase_id`` (one of them)."""

    state: AttemptState | str
    business_key: str | None = None
    purchase_id: str | None = None
    purchase_status: Status | str | None = None
    decline_code: str | None = None
    network_code: str | None = None
    advice_code: str | None = None
    brand: str | None = None
    masked_pan: str | None = None
    #: When the gateway reported ``purchase_status``; defaults to now.
    observed_at: datetime | None = None
    #: The payment the answer reported (issue 13: every paid attempt carries its figures).
    paid_cents: int | None = None
    fee_cents: int | None = None
    net_cents: int | None = None
    paid_at: datetime | None = None


def get_attempt(
    uow: UnitOfWork, *, business_key: str | None = None, purchase_id: str | None = None
) -> PaymentAttempt | None:
    """The attempt with this business key or (own, not related) purchase id, if any."""
    if (business_key is None) == (purchase_id is None):
        raise ValueError("give exactly one of business_key and purchase_id")
    if business_key is not None:
        return attempts_by(uow, PaymentAttempt.business_key, [business_key]).get(business_key)
    assert purchase_id is not None
    return attempts_by(uow, PaymentAttempt.purchase_id, [purchase_id]).get(purchase_id)


def require_attempt(uow: UnitOfWork, business_key: str) -> PaymentAttempt:
    """The attempt with this business key, which must exist (it was recorded before acting)."""
    attempt = get_attempt(uow, business_key=business_key)
    if attempt is None:
        raise LookupError(f"no attempt for business key {business_key!r}")
    return attempt


def record_intent(
    uow: UnitOfWork,
    business_key: str,
    kind: AttemptKind | str,
    amount_cents: int,
    currency: str,
    *,
    customer_id: int | None = None,
    subscription_id: int | None = None,
    payment_method_id: int | None = None,
    related_purchase_id: str | None = None,
) -> PaymentAttempt:
    """The attempt named ``business_key``: new in state ``intent``, or the one already there.

    An existing attempt is returned as it is, even when the arguments differ (a price changed
    between a crash and the retry): that attempt may already have charged, so its amount stands.
    """
    intent = Intent(
        business_key,
        kind,
        amount_cents,
        currency,
        customer_id,
        subscription_id,
        payment_method_id,
        related_purchase_id,
    )
    return record_intents(uow, [intent])[0]


def intent_rows(intents: Iterable[Intent], now: datetime) -> list[dict[str, Any]]:
    """The new ``payment_attempts`` rows of ``intents``, checked (amount, currency, kind): one
    reading for :func:`record_intents` and the billing claim's driver-level insert."""
    return [
        {
            "business_key": i.business_key,
            "kind": AttemptKind(i.kind),
            "state": AttemptState.INTENT,
            "amount_cents": non_negative(i.amount_cents),
            "currency": validate_currency(i.currency),
            "customer_id": i.customer_id,
            "subscription_id": i.subscription_id,
            "payment_method_id": i.payment_method_id,
            "related_purchase_id": i.related_purchase_id,
            "created_at": now,
            "updated_at": now,
        }
        for i in intents
    ]


def record_intents(uow: UnitOfWork, intents: Iterable[Intent]) -> list[PaymentAttempt]:
    """:func:`record_intent` for many, in one statement per 500; attempts in the order given."""
    intents = list(intents)
    if not intents:
        return []
    rows = intent_rows(intents, utcnow())
    stmt = insert_for(uow, PaymentAttempt).on_conflict_do_nothing(index_elements=["business_key"])
    for chunk in chunks(rows):
        uow.session.exec(stmt, params=list(chunk))
    found = attempts_by(uow, PaymentAttempt.business_key, (i.business_key for i in intents))
    return [found[i.business_key] for i in intents]


def attach_purchase(uow: UnitOfWork, business_key: str, purchase_id: str) -> PaymentAttempt:
    """Store the purchase created for ``business_key``; the attempt moves to ``created``.

    Attaching the same purchase again is a no-op. A different purchase for a key that has one,
    or a purchase already attached to another key, raises :class:`PurchaseConflict`.
    """
    return attach_purchases(uow, {business_key: purchase_id})[0]


def attach_purchases(uow: UnitOfWork, purchases: Mapping[str, str]) -> list[PaymentAttempt]:
    """:func:`attach_purchase` for many: ``{business_key: purchase_id}``."""
    if not purchases:
        return []
    if len(set(purchases.values())) != len(purchases):
        raise PurchaseConflict("one purchase id given for two business keys")
    attempts = attempts_by(uow, PaymentAttempt.business_key, purchases)
    missing = [key for key in purchases if key not in attempts]
    if missing:
        raise AttemptNotFound(f"no attempt for business key(s) {missing[:5]}")
    owners = attempts_by(uow, PaymentAttempt.purchase_id, purchases.values())
    now = utcnow()
    for key, purchase_id in purchases.items():
        attempt = attempts[key]
        owner = owners.get(purchase_id)
        if owner is not None and owner.business_key != key:
            raise PurchaseConflict(
                f"purchase {purchase_id} already belongs to attempt {owner.business_key}"
            )
        if attempt.purchase_id == purchase_id:
            continue
        if attempt.purchase_id is not None:
            raise PurchaseConflict(
                f"attempt {key} already has purchase {attempt.purchase_id}, not {purchase_id}"
            )
        attempt.purchase_id = purchase_id
        move(attempt, AttemptEvent.ATTACH, now)
        attempt.updated_at = now
    try:
        uow.session.flush()
    except IntegrityError as exc:  # a concurrent writer attached the same purchase
        raise PurchaseConflict("purchase id attached concurrently to another attempt") from exc
    return [attempts[key] for key in purchases]


def mark_submitted(uow: UnitOfWork, *business_keys: str, resend: bool = False) -> int:
    """Record that the pay/charge/capture request is about to go out; returns how many moved.

    Only ``created`` attempts move (or ``intent`` ones acting on an existing purchase: a capture,
    void or refund), and ``unknown`` ones with ``resend=True``: the caller read the purchase back
    and it is still unpaid and chargeable. Later states are left alone, so calling it twice is
    harmless. An attempt
    with no purchase at all cannot be submitted: that is the bug the protocol exists to stop.
    """
    attempts = attempts_by(uow, PaymentAttempt.business_key, business_keys)
    missing = [key for key in business_keys if key not in attempts]
    if missing:
        raise AttemptNotFound(f"no attempt for business key(s) {missing[:5]}")
    now = utcnow()
    moved = 0
    for attempt in attempts.values():
        unattached = attempt.purchase_id is None and attempt.related_purchase_id is None
        if attempt.state is AttemptState.INTENT and unattached:
            raise LedgerError(f"attempt {attempt.business_key} has no purchase id: attach it first")
        if attempt.state is AttemptState.UNKNOWN and not resend:
            continue  # an unknown attempt is resent only after a read-back proved nothing landed
        moved += move(attempt, AttemptEvent.SUBMIT, now)
    uow.session.flush()
    return moved


def record_outcome(
    uow: UnitOfWork,
    *,
    state: AttemptState | str,
    business_key: str | None = None,
    purchase_id: str | None = None,
    purchase_status: Status | str | None = None,
    decline_code: str | None = None,
    network_code: str | None = None,
    advice_code: str | None = None,
    brand: str | None = None,
    masked_pan: str | None = None,
    observed_at: datetime | None = None,
) -> PaymentAttempt:
    """Store the answer for one attempt (by ``business_key`` or ``purchase_id``).

    Returns the attempt as it now stands: compare its ``state`` with what was asked, since a
    move the ledger refuses (``unknown`` after ``succeeded``) is ignored, not an error.
    ``purchase_status`` also moves the purchase the attempt acts on (a capture moves its hold).
    """
    outcome = Outcome(
        state,
        business_key,
        purchase_id,
        purchase_status,
        decline_code,
        network_code,
        advice_code,
        brand,
        masked_pan,
        observed_at,
    )
    return record_outcomes(uow, [outcome])[0]


def record_outcomes(uow: UnitOfWork, outcomes: Iterable[Outcome]) -> list[PaymentAttempt]:
    """:func:`record_outcome` for many; attempts in the order given."""
    outcomes = list(outcomes)
    for o in outcomes:
        if (o.business_key is None) == (o.purchase_id is None):
            raise ValueError("each outcome needs exactly one of business_key and purchase_id")
    by_key = attempts_by(
        uow, PaymentAttempt.business_key, (o.business_key for o in outcomes if o.business_key)
    )
    by_purchase = attempts_by(
        uow, PaymentAttempt.purchase_id, (o.purchase_id for o in outcomes if o.purchase_id)
    )
    now = utcnow()
    result: list[PaymentAttempt] = []
    captured: list[PaymentAttempt] = []
    reports: list[StatusReport] = []
    for o in outcomes:
        attempt = (
            by_key.get(o.business_key) if o.business_key else by_purchase.get(o.purchase_id or "")
        )
        if attempt is None:
            raise AttemptNotFound(f"no attempt for {o.business_key or o.purchase_id}")
        state = AttemptState(o.state)
        event = event_to(state)
        moved = event is not None and move(attempt, event, now)
        if moved and state in (AttemptState.DECLINED, AttemptState.FAILED):
            attempt.decline_code = o.decline_code
            attempt.network_code = o.network_code
            attempt.advice_code = o.advice_code
        if o.brand is not None and attempt.brand is None:
            attempt.brand = o.brand
        if o.masked_pan is not None and attempt.masked_pan is None:
            attempt.masked_pan = masked(o.masked_pan)
        for name in ("paid_cents", "fee_cents", "net_cents"):
            value = getattr(o, name)
            if value is not None and getattr(attempt, name) != value:
                setattr(attempt, name, value)
        if o.paid_at is not None and attempt.paid_at is None:
            attempt.paid_at = aware(o.paid_at, "paid_at")
        if attempt.kind == AttemptKind.CAPTURE and attempt.state == AttemptState.SUCCEEDED:
            captured.append(attempt)
        if o.purchase_status is not None:
            at = aware(o.observed_at, "observed_at") if o.observed_at else now
            status = Status(o.purchase_status)
            if attempt.purchase_id is None:
                # A capture/void/refund: keep the status it produced on the attempt itself...
                advance(attempt, status, at, now)
            target = attempt.purchase_id or attempt.related_purchase_id
            if target is not None:
                # ...and move the purchase it acted on (its hold, the attempt that created it).
                reports.append(StatusReport(target, status, at))
        result.append(attempt)
    if captured:
        holds = holds_by_purchase(uow, (a.related_purchase_id or "" for a in captured))
        for capture in captured:
            hold = holds.get(capture.related_purchase_id or "")
            if hold is not None and hold.captured_cents != capture.amount_cents:
                hold.captured_cents = capture.amount_cents
                hold.updated_at = now
    if reports:
        apply_reports(uow, reports, now)
    uow.session.flush()
    return result


def unresolved_attempts(
    uow: UnitOfWork, older_than: datetime | None = None, *, limit: int | None = None
) -> list[PaymentAttempt]:
    """Attempts still in intent/created/submitted/unknown, oldest first: read each one back.

    ``older_than`` skips attempts touched since then, which are probably still in flight.
    """
    stmt = select(PaymentAttempt).where(col(PaymentAttempt.state).in_(list(UNRESOLVED)))
    if older_than is not None:
        stmt = stmt.where(col(PaymentAttempt.updated_at) < aware(older_than, "older_than"))
    stmt = stmt.order_by(col(PaymentAttempt.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(uow.session.exec(stmt))


def withdraw_intent(uow: UnitOfWork, business_key: str) -> bool:
    """Forget an attempt the gateway refused outright (a 4xx: nothing happened).

    Only an attempt that moved no money may go: one still in ``intent`` or ``created`` (the
    purchase exists but nothing was paid on it), or ``submitted`` when the caller holds a 4xx
    answer for the submission. Freeing the key lets the merchant try again with corrected input
    (a smaller capture, a valid refund amount) under the same business key. Returns whether a
    row was removed.
    """
    attempt = get_attempt(uow, business_key=business_key)
    if attempt is None:
        return False
    if not may(attempt.state, AttemptEvent.WITHDRAW):
        raise LedgerError(
            f"attempt {business_key!r} is {attempt.state.value}: only an attempt that moved no "
            "money can be withdrawn"
        )
    uow.session.delete(attempt)
    uow.session.flush()
    return True
