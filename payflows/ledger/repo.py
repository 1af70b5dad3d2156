"""The queries a flow calls, each one small, explicit, and safe to run twice.

Precium has no idempotency key: the purchase id is the only handle on a payment, and a retried
Prefect task may run a step again after it already reached the gateway. Charging exactly once is
therefore the ledger's job, in four durable steps (each committed before the next gateway call):

1. :func:`record_intent` names the attempt by a business key (``sub:{id}:{period}``,
   ``cit:{order}``). Running it again returns the same attempt, never a second one.
2. :func:`attach_purchase` stores the purchase id before the gateway is asked to act on it. A
   second purchase for the same key is refused (:class:`PurchaseConflict`).
3. :func:`mark_submitted` says "the request may have reached the gateway".
4. :func:`record_outcome` stores the answer. An attempt left in ``intent``, ``created``,
   ``submitted`` or ``unknown`` (see :func:`unresolved_attempts`) is settled by reading the
   purchase back, never by sending the request again blindly.

Gateway statuses (webhooks, read-backs) go through :func:`apply_gateway_status`, which only moves
a purchase forward along the state table (:func:`payflows.domain.can_reach`): webhooks arrive at
least once and may arrive late, and an old ``hold`` must never overwrite a newer ``paid``.

Every function that a pipeline calls once per item has a plural twin taking a list, so that a
chunk of 500 items costs three commits, not 1,500. Nothing here commits: the caller's
:class:`~payflows.ledger.db.UnitOfWork` does. Inserts that must happen once under concurrency use
``INSERT ... ON CONFLICT DO NOTHING`` on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Table, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from payflows.domain.cards import luhn_valid, mask_pan
from payflows.domain.money import validate_currency
from payflows.domain.states import Status, can_reach
from payflows.ledger.db import UnitOfWork
from payflows.ledger.errors import AttemptNotFound, LedgerError, PurchaseConflict
from payflows.ledger.models import (
    AttemptKind,
    AttemptState,
    Customer,
    Hold,
    HoldDecision,
    IntervalUnit,
    OneOffCharge,
    OneOffChargeStatus,
    PaymentAttempt,
    PaymentMethod,
    Refund,
    RefundStatus,
    Subscription,
    SubscriptionStatus,
    ThreeDSChallenge,
    WebhookEvent,
    utcnow,
)

__all__ = [
    "UNRESOLVED",
    "Intent",
    "Outcome",
    "StatusReport",
    "apply_gateway_status",
    "apply_gateway_statuses",
    "attach_purchase",
    "attach_purchases",
    "claim_due_subscriptions",
    "decide_hold",
    "due_holds",
    "get_attempt",
    "lease_rows",
    "mark_submitted",
    "mark_webhook_applied",
    "record_hold",
    "record_intent",
    "record_intents",
    "record_outcome",
    "record_outcomes",
    "record_refund",
    "record_webhook_event",
    "release_claim",
    "unresolved_attempts",
    "upsert_customer",
    "upsert_payment_method",
    "upsert_subscription",
    "webhook_dedupe_key",
]

#: Attempt states that still need a read-back of the purchase to be settled.
UNRESOLVED: frozenset[AttemptState] = frozenset(
    {AttemptState.INTENT, AttemptState.CREATED, AttemptState.SUBMITTED, AttemptState.UNKNOWN}
)
_RESOLVED = frozenset({AttemptState.SUCCEEDED, AttemptState.DECLINED, AttemptState.FAILED})

#: Rows per statement in bulk calls: far below SQLite's bound-parameter limit.
_CHUNK = 500

T = TypeVar("T")


# --------------------------------------------------------------------------- helpers


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert(uow: UnitOfWork, table: Table) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT DO NOTHING`` on both backends."""
    return pg_insert(table) if uow.dialect == "postgresql" else sqlite_insert(table)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC)")
    return value


def _cents(value: int, name: str = "amount_cents") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int number of cents, got {type(value).__name__}")
    return value


def _non_negative(value: int) -> int:
    if _cents(value) < 0:
        raise ValueError("amount_cents must not be negative (a refund is its own kind)")
    return value


_PAN_SHAPED = re.compile(r"^\d{12,19}$")


def _masked(value: str | None) -> str | None:
    """Refuse a full PAN where a masked one belongs, without echoing it."""
    if value is not None and _PAN_SHAPED.match(re.sub(r"[\s-]", "", value)):
        raise ValueError("masked_pan looks like a full card number; store mask_pan(number)")
    return value


def _set(obj: Any, now: datetime, **fields: Any) -> bool:
    """Set the fields given (None means "not given") that differ; touch updated_at if any did."""
    changed = False
    for name, value in fields.items():
        if value is not None and getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    if changed:
        obj.updated_at = now
    return changed


# --------------------------------------------------------------------------- reference data


def upsert_customer(
    uow: UnitOfWork,
    external_id: str,
    *,
    precium_client_id: str | None = None,
    email: str | None = None,
    full_name: str | None = None,
    phone: str | None = None,
    country: str | None = None,
) -> Customer:
    """The customer with ``external_id``, created or updated; running it again changes nothing."""
    now = utcnow()
    uow.session.exec(
        _insert(uow, Customer.__table__)  # type: ignore[arg-type]
        .values(
            external_id=external_id,
            precium_client_id=precium_client_id,
            email=email,
            full_name=full_name,
            phone=phone,
            country=country,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["external_id"])
    )
    customer = uow.session.exec(
        select(Customer)
        .where(Customer.external_id == external_id)
        .execution_options(populate_existing=True)
    ).scalar_one()
    _set(
        customer,
        now,
        precium_client_id=precium_client_id,
        email=email,
        full_name=full_name,
        phone=phone,
        country=country,
    )
    uow.session.flush()
    return customer


def upsert_payment_method(
    uow: UnitOfWork,
    recurring_token: str,
    *,
    customer_id: int,
    network_transaction_id: str | None = None,
    original_amount_cents: int | None = None,
    currency: str | None = None,
    brand: str | None = None,
    masked_pan: str | None = None,
    expiry_month: int | None = None,
    expiry_year: int | None = None,
) -> PaymentMethod:
    """The stored card for ``recurring_token``. A token never moves to another customer."""
    now = utcnow()
    if original_amount_cents is not None:
        _cents(original_amount_cents, "original_amount_cents")
    currency = validate_currency(currency) if currency is not None else None
    fields = {
        "network_transaction_id": network_transaction_id,
        "original_amount_cents": original_amount_cents,
        "currency": currency,
        "brand": brand,
        "masked_pan": _masked(masked_pan),
        "expiry_month": expiry_month,
        "expiry_year": expiry_year,
    }
    uow.session.exec(
        _insert(uow, PaymentMethod.__table__)  # type: ignore[arg-type]
        .values(
            recurring_token=recurring_token,
            customer_id=customer_id,
            created_at=now,
            updated_at=now,
            **fields,
        )
        .on_conflict_do_nothing(index_elements=["recurring_token"])
    )
    method = uow.session.exec(
        select(PaymentMethod)
        .where(PaymentMethod.recurring_token == recurring_token)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if method.customer_id != customer_id:
        raise LedgerError(
            f"payment method {method.id} belongs to customer {method.customer_id}, "
            f"not {customer_id}"
        )
    _set(method, now, **fields)
    uow.session.flush()
    return method


def upsert_subscription(
    uow: UnitOfWork,
    external_id: str,
    *,
    customer_id: int,
    plan: str,
    amount_cents: int,
    currency: str,
    interval_unit: IntervalUnit | str,
    next_billing_at: datetime,
    interval_count: int = 1,
    payment_method_id: int | None = None,
) -> Subscription:
    """The subscription ``external_id``, created, or with its plan, price and card updated.

    ``next_billing_at`` is used only when the subscription is new: once billing has started, the
    billing schedule, status, dunning state and claims belong to the billing flow, and an import
    run again must not reset them (that could bill a period twice).
    """
    now = utcnow()
    _cents(amount_cents)
    currency = validate_currency(currency)
    unit = IntervalUnit(interval_unit)
    if interval_count < 1:
        raise ValueError("interval_count must be at least 1")
    first = _aware(next_billing_at, "next_billing_at")
    uow.session.exec(
        _insert(uow, Subscription.__table__)  # type: ignore[arg-type]
        .values(
            external_id=external_id,
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            plan=plan,
            amount_cents=amount_cents,
            currency=currency,
            interval_unit=unit,
            interval_count=interval_count,
            next_billing_at=first,
            anchor_day=first.astimezone(UTC).day,
            status=SubscriptionStatus.ACTIVE,
            failed_attempts=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["external_id"])
    )
    sub = uow.session.exec(
        select(Subscription)
        .where(Subscription.external_id == external_id)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if sub.customer_id != customer_id:
        raise LedgerError(f"subscription {external_id} belongs to another customer")
    _set(
        sub,
        now,
        plan=plan,
        amount_cents=amount_cents,
        currency=currency,
        interval_unit=unit,
        interval_count=interval_count,
        payment_method_id=payment_method_id,
    )
    uow.session.flush()
    return sub


def upsert_one_off_charge(
    uow: UnitOfWork,
    external_id: str,
    *,
    customer_id: int,
    payment_method_id: int,
    amount_cents: int,
    currency: str,
    description: str,
    charge_on: date,
) -> OneOffCharge:
    """The planned one-off charge ``external_id``; a charged or cancelled one cannot change,
    nor one the billing run has started to charge (``attempt_id`` set: the amount stands)."""
    now = utcnow()
    _cents(amount_cents)
    currency = validate_currency(currency)
    uow.session.exec(
        _insert(uow, OneOffCharge.__table__)  # type: ignore[arg-type]
        .values(
            external_id=external_id,
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            amount_cents=amount_cents,
            currency=currency,
            description=description,
            charge_on=charge_on,
            status=OneOffChargeStatus.PLANNED,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["external_id"])
    )
    charge = get_one_off_charge(uow, external_id)
    assert charge is not None
    if charge.customer_id != customer_id:
        raise LedgerError(f"one-off charge {external_id} belongs to another customer")
    fields = {
        "payment_method_id": payment_method_id,
        "amount_cents": amount_cents,
        "currency": currency,
        "description": description,
        "charge_on": charge_on,
    }
    if charge.status is not OneOffChargeStatus.PLANNED or charge.attempt_id is not None:
        if any(getattr(charge, name) != value for name, value in fields.items()):
            state = "being charged" if charge.status is OneOffChargeStatus.PLANNED else None
            raise LedgerError(
                f"one-off charge {external_id} is {state or charge.status.value}; "
                "it can no longer change"
            )
    else:
        _set(charge, now, **fields)
    uow.session.flush()
    return charge


def get_one_off_charge(uow: UnitOfWork, external_id: str) -> OneOffCharge | None:
    return uow.session.exec(
        select(OneOffCharge)
        .where(OneOffCharge.external_id == external_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


# --------------------------------------------------------------------------- exactly once


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


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A purchase status as a webhook or a read-back told it."""

    purchase_id: str
    status: Status | str
    observed_at: datetime
    #: The purchase's paid amount, when the report carries it (sets a hold's captured amount).
    amount_cents: int | None = None


def _attempts_by(uow: UnitOfWork, column: Any, values: Iterable[str]) -> dict[str, PaymentAttempt]:
    values = list(dict.fromkeys(values))
    found: dict[str, PaymentAttempt] = {}
    for chunk in _chunks(values):
        rows = uow.session.exec(select(PaymentAttempt).where(column.in_(chunk))).scalars()
        for row in rows:
            found[getattr(row, column.key)] = row
    return found


def get_attempt(
    uow: UnitOfWork, *, business_key: str | None = None, purchase_id: str | None = None
) -> PaymentAttempt | None:
    """The attempt with this business key or (own, not related) purchase id, if any."""
    if (business_key is None) == (purchase_id is None):
        raise ValueError("give exactly one of business_key and purchase_id")
    if business_key is not None:
        return _attempts_by(uow, PaymentAttempt.business_key, [business_key]).get(business_key)
    assert purchase_id is not None
    return _attempts_by(uow, PaymentAttempt.purchase_id, [purchase_id]).get(purchase_id)


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


def record_intents(uow: UnitOfWork, intents: Iterable[Intent]) -> list[PaymentAttempt]:
    """:func:`record_intent` for many, in one statement per 500; attempts in the order given."""
    intents = list(intents)
    if not intents:
        return []
    now = utcnow()
    rows = [
        {
            "business_key": i.business_key,
            "kind": AttemptKind(i.kind),
            "state": AttemptState.INTENT,
            "amount_cents": _non_negative(i.amount_cents),
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
    stmt = _insert(uow, PaymentAttempt.__table__).on_conflict_do_nothing(  # type: ignore[arg-type]
        index_elements=["business_key"]
    )
    for chunk in _chunks(rows):
        uow.session.exec(stmt, params=list(chunk))
    found = _attempts_by(uow, PaymentAttempt.business_key, (i.business_key for i in intents))
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
    attempts = _attempts_by(uow, PaymentAttempt.business_key, purchases)
    missing = [key for key in purchases if key not in attempts]
    if missing:
        raise AttemptNotFound(f"no attempt for business key(s) {missing[:5]}")
    owners = _attempts_by(uow, PaymentAttempt.purchase_id, purchases.values())
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
        if attempt.state in (AttemptState.INTENT, AttemptState.UNKNOWN):
            attempt.state = AttemptState.CREATED
        attempt.updated_at = now
    try:
        uow.session.flush()
    except IntegrityError as exc:  # a concurrent writer attached the same purchase
        raise PurchaseConflict("purchase id attached concurrently to another attempt") from exc
    return [attempts[key] for key in purchases]


def mark_submitted(uow: UnitOfWork, *business_keys: str) -> int:
    """Record that the pay/charge/capture request is about to go out; returns how many moved.

    Only ``created`` attempts move (or ``intent`` ones acting on an existing purchase: a capture,
    void or refund). Later states are left alone, so calling it twice is harmless. An attempt
    with no purchase at all cannot be submitted: that is the bug the protocol exists to stop.
    """
    attempts = _attempts_by(uow, PaymentAttempt.business_key, business_keys)
    missing = [key for key in business_keys if key not in attempts]
    if missing:
        raise AttemptNotFound(f"no attempt for business key(s) {missing[:5]}")
    now = utcnow()
    moved = 0
    for attempt in attempts.values():
        if attempt.state == AttemptState.INTENT:
            if attempt.related_purchase_id is None:
                raise LedgerError(
                    f"attempt {attempt.business_key} has no purchase id: attach it first"
                )
        elif attempt.state != AttemptState.CREATED:
            continue
        attempt.state = AttemptState.SUBMITTED
        attempt.updated_at = now
        moved += 1
    uow.session.flush()
    return moved


def _may_move(current: AttemptState, new: AttemptState) -> bool:
    """Unresolved attempts may move anywhere forward; a resolved one only to ``succeeded``.

    The exception exists because a read-back is the truth: a charge we took for declined or
    failed (a lost response, then a retry refused as "already paid") may turn out paid.
    ``succeeded`` is final: a late timeout must not make a paid attempt look unknown.
    """
    if current == new or new in (AttemptState.INTENT, AttemptState.CREATED):
        return False
    if current in UNRESOLVED:
        return True
    return current != AttemptState.SUCCEEDED and new == AttemptState.SUCCEEDED


def _move(attempt: PaymentAttempt, new: AttemptState, now: datetime) -> bool:
    if not _may_move(attempt.state, new):
        return False
    attempt.state = new
    attempt.updated_at = now
    if new in _RESOLVED:
        attempt.resolved_at = now
    if new == AttemptState.SUCCEEDED:
        attempt.decline_code = attempt.network_code = attempt.advice_code = None
    return True


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
    by_key = _attempts_by(
        uow, PaymentAttempt.business_key, (o.business_key for o in outcomes if o.business_key)
    )
    by_purchase = _attempts_by(
        uow, PaymentAttempt.purchase_id, (o.purchase_id for o in outcomes if o.purchase_id)
    )
    now = utcnow()
    result: list[PaymentAttempt] = []
    captured: list[PaymentAttempt] = []
    reports: list[StatusReport] = []
    for o in outcomes:
        attempt = by_key.get(o.business_key) if o.business_key else by_purchase.get(o.purchase_id)  # type: ignore[arg-type]
        if attempt is None:
            raise AttemptNotFound(f"no attempt for {o.business_key or o.purchase_id}")
        state = AttemptState(o.state)
        if _move(attempt, state, now) and state in (AttemptState.DECLINED, AttemptState.FAILED):
            attempt.decline_code = o.decline_code
            attempt.network_code = o.network_code
            attempt.advice_code = o.advice_code
        if o.brand is not None and attempt.brand is None:
            attempt.brand = o.brand
        if o.masked_pan is not None and attempt.masked_pan is None:
            attempt.masked_pan = _masked(o.masked_pan)
        if attempt.kind == AttemptKind.CAPTURE and attempt.state == AttemptState.SUCCEEDED:
            captured.append(attempt)
        if o.purchase_status is not None:
            at = _aware(o.observed_at, "observed_at") if o.observed_at else now
            status = Status(o.purchase_status)
            if attempt.purchase_id is None:
                # A capture/void/refund: keep the status it produced on the attempt itself...
                _advance(attempt, status, at, now)
            target = attempt.purchase_id or attempt.related_purchase_id
            if target is not None:
                # ...and move the purchase it acted on (its hold, the attempt that created it).
                reports.append(StatusReport(target, status, at))
        result.append(attempt)
    if captured:
        holds = _holds_by_purchase(uow, (a.related_purchase_id or "" for a in captured))
        for capture in captured:
            hold = holds.get(capture.related_purchase_id or "")
            if hold is not None and hold.captured_cents != capture.amount_cents:
                hold.captured_cents = capture.amount_cents
                hold.updated_at = now
    if reports:
        _apply_reports(uow, reports, now)
    uow.session.flush()
    return result


def unresolved_attempts(
    uow: UnitOfWork, older_than: datetime | None = None, *, limit: int | None = None
) -> list[PaymentAttempt]:
    """Attempts still in intent/created/submitted/unknown, oldest first: read each one back.

    ``older_than`` skips attempts touched since then, which are probably still in flight.
    """
    stmt = select(PaymentAttempt).where(PaymentAttempt.state.in_(list(UNRESOLVED)))  # type: ignore[attr-defined]
    if older_than is not None:
        stmt = stmt.where(PaymentAttempt.updated_at < _aware(older_than, "older_than"))
    stmt = stmt.order_by(PaymentAttempt.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(uow.session.exec(stmt).scalars())


# --------------------------------------------------------------------------- gateway status

#: What a purchase status says about the attempt that created the purchase.
_STATE_FOR_STATUS: dict[Status, AttemptState] = {
    **{
        s: AttemptState.SUCCEEDED
        for s in (
            Status.HOLD,
            Status.PREAUTHORIZED,
            Status.PENDING_CAPTURE,
            Status.PAID,
            Status.PENDING_RELEASE,
            Status.RELEASED,
            Status.EXPIRED,
            Status.CLEARED,
            Status.SETTLED,
            Status.PENDING_REFUND,
            Status.REFUNDED,
            Status.CHARGEBACK,
        )
    },
    Status.ERROR: AttemptState.DECLINED,
    Status.BLOCKED: AttemptState.DECLINED,
    Status.PENDING_EXECUTE: AttemptState.SUBMITTED,
    Status.PENDING_CHARGE: AttemptState.SUBMITTED,
    # Cancelled before anything was paid: nothing happened. (A cancel after ``paid`` leaves a
    # succeeded attempt as it is: resolved attempts only ever move to succeeded.)
    Status.CANCELLED: AttemptState.FAILED,
}


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


def _advance(row: PaymentAttempt | Hold, new: Status, observed_at: datetime, now: datetime) -> bool:
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


def _holds_by_purchase(uow: UnitOfWork, purchase_ids: Iterable[str]) -> dict[str, Hold]:
    ids = list(dict.fromkeys(purchase_ids))
    found: dict[str, Hold] = {}
    for chunk in _chunks(ids):
        for hold in uow.session.exec(
            select(Hold).where(Hold.purchase_id.in_(chunk))  # type: ignore[attr-defined]
        ).scalars():
            found[hold.purchase_id] = hold
    return found


def _apply_reports(uow: UnitOfWork, reports: Sequence[StatusReport], now: datetime) -> list[str]:
    attempts = _attempts_by(uow, PaymentAttempt.purchase_id, (r.purchase_id for r in reports))
    holds = _holds_by_purchase(uow, (r.purchase_id for r in reports))
    changed: list[str] = []
    for report in reports:
        status = Status(report.status)
        at = _aware(report.observed_at, "observed_at")
        moved = False
        attempt = attempts.get(report.purchase_id)
        if attempt is not None and _advance(attempt, status, at, now):
            moved = True
            derived = _STATE_FOR_STATUS.get(status)
            if derived is not None:
                _move(attempt, derived, now)
        hold = holds.get(report.purchase_id)
        if hold is not None:
            if _advance(hold, status, at, now):
                moved = True
            paid = report.amount_cents
            if status == Status.PAID and paid is not None and hold.captured_cents != _cents(paid):
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
    changed = _apply_reports(uow, [report], utcnow())
    uow.session.flush()
    return bool(changed)


def apply_gateway_statuses(uow: UnitOfWork, reports: Iterable[StatusReport]) -> list[str]:
    """:func:`apply_gateway_status` for a batch of read-backs; returns the purchase ids moved.

    Reports are applied in the order given, so several reports for one purchase may be passed.
    """
    reports = list(reports)
    changed = _apply_reports(uow, reports, utcnow()) if reports else []
    uow.session.flush()
    return changed


# --------------------------------------------------------------------------- subscriptions


def _due(as_of: datetime, now: datetime) -> Any:
    """Subscriptions to bill at ``as_of`` whose lease (if any) has run out at ``now``.

    A past-due subscription is retried at ``retry_at``; its ``next_billing_at`` stays on the
    period still unpaid until the billing flow advances it.
    """
    return (
        select(Subscription.id)
        .where(
            Subscription.status.in_([SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]),  # type: ignore[attr-defined]
            Subscription.next_billing_at <= as_of,
            or_(Subscription.retry_at.is_(None), Subscription.retry_at <= as_of),  # type: ignore[union-attr]
            or_(Subscription.claimed_until.is_(None), Subscription.claimed_until <= now),  # type: ignore[union-attr]
        )
        .order_by(Subscription.next_billing_at, Subscription.id)
    )


def lease_rows(uow: UnitOfWork, model: Any, due: Any, values: dict[str, Any]) -> list[Any]:
    """Set ``values`` (the lease) on the rows of ``model`` whose ids ``due`` selects; return them.

    Two claimers never get the same row: PostgreSQL locks the selected rows with ``FOR UPDATE
    SKIP LOCKED`` (a concurrent claimer takes the next ones instead of waiting); SQLite claims
    with one ``UPDATE ... WHERE id IN (SELECT ...) RETURNING`` inside its ``BEGIN IMMEDIATE``
    transaction. The caller commits: the lease is durable only then.
    """
    session = uow.session
    session.flush()
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite" and dialect.update_returning:
        return list(
            session.exec(
                update(model)
                .where(model.id.in_(due))
                .values(**values)
                .returning(model)
                .execution_options(synchronize_session=False, populate_existing=True)
            ).scalars()
        )
    if dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.exec(due).scalars())
    if not ids:
        return []
    session.exec(
        update(model)
        .where(model.id.in_(ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.exec(
            select(model).where(model.id.in_(ids)).execution_options(populate_existing=True)
        ).scalars()
    )


def claim_due_subscriptions(
    uow: UnitOfWork,
    as_of: datetime,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    *,
    now: datetime | None = None,
) -> list[Subscription]:
    """Lease up to ``limit`` due subscriptions to ``worker_id``; two workers never share one.

    ``as_of`` decides what is due (it may be the sandbox's clock); the lease runs on ``now``
    (the wall clock by default). PostgreSQL locks the rows with ``FOR UPDATE SKIP LOCKED`` so a
    concurrent claimer takes the next ones instead of waiting; SQLite claims with one
    ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`` inside a ``BEGIN IMMEDIATE``
    transaction. Commit soon after: the claim is durable only then.
    """
    _aware(as_of, "as_of")
    now = _aware(now, "now") if now is not None else utcnow()
    if limit <= 0:
        return []
    until = now + timedelta(seconds=lease_seconds)
    values = {"claimed_by": worker_id, "claimed_until": until, "updated_at": now}
    claimed = lease_rows(uow, Subscription, _due(as_of, now).limit(limit), values)
    return sorted(claimed, key=lambda s: (s.next_billing_at, s.id or 0))


def release_claim(uow: UnitOfWork, subscription_ids: Iterable[int], worker_id: str) -> int:
    """Give back leases held by ``worker_id`` (never another worker's); returns how many."""
    ids = list(subscription_ids)
    if not ids:
        return 0
    released = 0
    for chunk in _chunks(ids):
        result = uow.session.exec(
            update(Subscription)
            .where(Subscription.id.in_(chunk), Subscription.claimed_by == worker_id)  # type: ignore[union-attr]
            .values(claimed_by=None, claimed_until=None, updated_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
        released += result.rowcount
    return released


# --------------------------------------------------------------------------- holds, refunds


def record_hold(
    uow: UnitOfWork,
    purchase_id: str,
    *,
    authorised_cents: int,
    currency: str,
    authorised_at: datetime,
    expires_at: datetime,
    brand: str | None = None,
    is_mit: bool = False,
    customer_id: int | None = None,
    attempt_id: int | None = None,
) -> Hold:
    """The hold on ``purchase_id``, stored once; recording it again returns the first one."""
    now = utcnow()
    uow.session.exec(
        _insert(uow, Hold.__table__)  # type: ignore[arg-type]
        .values(
            purchase_id=purchase_id,
            attempt_id=attempt_id,
            customer_id=customer_id,
            authorised_cents=_cents(authorised_cents, "authorised_cents"),
            captured_cents=0,
            currency=validate_currency(currency),
            brand=brand,
            is_mit=is_mit,
            authorised_at=_aware(authorised_at, "authorised_at"),
            expires_at=_aware(expires_at, "expires_at"),
            decision=HoldDecision.NONE,
            status=Status.HOLD,
            status_at=authorised_at,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["purchase_id"])
    )
    return uow.session.exec(select(Hold).where(Hold.purchase_id == purchase_id)).scalar_one()


def decide_hold(
    uow: UnitOfWork,
    purchase_id: str,
    decision: HoldDecision | str,
    amount_cents: int | None = None,
) -> Hold:
    """Record what to do with an open hold: capture ``amount_cents`` (default: all), or void."""
    hold = _holds_by_purchase(uow, [purchase_id]).get(purchase_id)
    if hold is None:
        raise LedgerError(f"no hold for purchase {purchase_id}")
    if hold.status != Status.HOLD:
        raise LedgerError(f"hold {purchase_id} is {hold.status.value}, no longer open")
    choice = HoldDecision(decision)
    if choice == HoldDecision.CAPTURE:
        amount = hold.authorised_cents if amount_cents is None else _cents(amount_cents)
        if not 0 < amount <= hold.authorised_cents:
            raise LedgerError(f"cannot capture {amount} of {hold.authorised_cents} authorised")
    else:
        amount = None
    now = utcnow()
    hold.decision, hold.decision_cents, hold.decided_at, hold.updated_at = choice, amount, now, now
    uow.session.flush()
    return hold


def due_holds(
    uow: UnitOfWork, as_of: datetime, margin: timedelta = timedelta(0), *, limit: int | None = None
) -> list[Hold]:
    """Open holds whose authorisation lapses before ``as_of + margin``, soonest first.

    Card networks want a capture at least a day before the window closes: pass that as margin.
    """
    stmt = (
        select(Hold)
        .where(Hold.status == Status.HOLD, Hold.expires_at <= _aware(as_of, "as_of") + margin)
        .order_by(Hold.expires_at, Hold.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(uow.session.exec(stmt).scalars())


def record_refund(
    uow: UnitOfWork,
    refund_id: str,
    purchase_id: str,
    amount_cents: int,
    currency: str,
    *,
    status: RefundStatus | str = RefundStatus.PENDING,
    created_at: datetime | None = None,
    settled_at: datetime | None = None,
    cancelled_at: datetime | None = None,
    attempt_id: int | None = None,
) -> Refund:
    """The refund ``refund_id``, stored once; a pending one may later settle or be cancelled."""
    now = utcnow()
    new_status = RefundStatus(status)
    uow.session.exec(
        _insert(uow, Refund.__table__)  # type: ignore[arg-type]
        .values(
            refund_id=refund_id,
            purchase_id=purchase_id,
            attempt_id=attempt_id,
            amount_cents=_cents(amount_cents),
            currency=validate_currency(currency),
            status=new_status,
            created_at=_aware(created_at, "created_at") if created_at else now,
            settled_at=settled_at,
            cancelled_at=cancelled_at,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["refund_id"])
    )
    refund = uow.session.exec(
        select(Refund)
        .where(Refund.refund_id == refund_id)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if refund.status == RefundStatus.PENDING and new_status != RefundStatus.PENDING:
        refund.status = new_status
        if new_status == RefundStatus.SETTLED:
            refund.settled_at = settled_at or now
        if new_status == RefundStatus.CANCELLED:
            refund.cancelled_at = cancelled_at or now
        refund.updated_at = now
    uow.session.flush()
    return refund


# --------------------------------------------------------------------------- webhooks

#: Keys whose values are card data or authentication secrets, dropped from stored payloads.
_CARD_KEYS = frozenset(
    {
        "card_number",
        "cardnumber",
        "pan",
        "cvc",
        "cvv",
        "cvv2",
        "expires",
        "expiry_month",
        "expiry_year",
        "exp_month",
        "exp_year",
        "cavv",
        "xid",
        "network_token",
        "network_token_cryptogram",
        "cryptogram",
    }
)
_DIGITS_ONLY = re.compile(r"^\d{13,19}$")


def _scrub(value: Any) -> Any:
    """A copy of a payload with card fields dropped and any PAN-shaped string masked.

    The receiver should never pass card data here; this is the last line, so that a payload
    shape nobody foresaw cannot write a PAN into the database.
    """
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items() if str(k).lower() not in _CARD_KEYS}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        digits = re.sub(r"[\s-]", "", value)
        if _DIGITS_ONLY.match(digits) and luhn_valid(digits):
            return mask_pan(digits)
    return value


def webhook_dedupe_key(raw_body: bytes) -> str:
    """The dedupe key of a webhook: the sha256 of its raw body, hex."""
    return hashlib.sha256(raw_body).hexdigest()


def record_webhook_event(
    uow: UnitOfWork,
    dedupe_key: str,
    *,
    event_type: str,
    purchase_id: str | None = None,
    status: str | None = None,
    event_at: datetime | None = None,
    payload: Mapping[str, Any] | None = None,
    received_at: datetime | None = None,
    applied: bool = False,
) -> bool:
    """Store a received webhook once; False when this dedupe key was already stored.

    Safe under concurrency: two receivers racing on one delivery get one True and one False.
    """
    stmt = (
        _insert(uow, WebhookEvent.__table__)  # type: ignore[arg-type]
        .values(
            dedupe_key=dedupe_key,
            event_type=event_type,
            purchase_id=purchase_id,
            status=status,
            event_at=_aware(event_at, "event_at") if event_at else None,
            received_at=_aware(received_at, "received_at") if received_at else utcnow(),
            applied=applied,
            payload=_scrub(payload) if payload is not None else None,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    if not uow.session.get_bind().dialect.insert_returning:  # SQLite before 3.35
        return uow.session.exec(stmt).rowcount == 1
    # RETURNING rather than rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    return uow.session.exec(stmt.returning(WebhookEvent.__table__.c.id)).first() is not None  # type: ignore[attr-defined]


def mark_webhook_applied(uow: UnitOfWork, dedupe_key: str) -> bool:
    """Flag a stored webhook as applied to the ledger; False when it was already (or unknown)."""
    result = uow.session.exec(
        update(WebhookEvent)
        .where(WebhookEvent.dedupe_key == dedupe_key, WebhookEvent.applied.is_(False))  # type: ignore[attr-defined]
        .values(applied=True)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


# -- intents the gateway refused ------------------------------------------------------------


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
    if attempt.state not in {AttemptState.INTENT, AttemptState.CREATED, AttemptState.SUBMITTED}:
        raise LedgerError(
            f"attempt {business_key!r} is {attempt.state.value}: only an attempt that moved no "
            "money can be withdrawn"
        )
    uow.session.delete(attempt)
    uow.session.flush()
    return True


# -- 3-D Secure challenges ------------------------------------------------------------------


def record_challenge(
    uow: UnitOfWork,
    *,
    md: str,
    business_key: str,
    purchase_id: str,
    acs_url: str,
    callback_url: str,
) -> ThreeDSChallenge:
    """Remember a challenge until the shopper's bank answers at the TermUrl (stored once)."""
    uow.session.exec(
        _insert(uow, ThreeDSChallenge.__table__)  # type: ignore[arg-type]
        .values(
            md=md,
            business_key=business_key,
            purchase_id=purchase_id,
            acs_url=acs_url,
            callback_url=callback_url,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["md"])
    )
    challenge = get_challenge(uow, md)
    assert challenge is not None
    return challenge


def get_challenge(uow: UnitOfWork, md: str) -> ThreeDSChallenge | None:
    return uow.session.exec(
        select(ThreeDSChallenge)
        .where(ThreeDSChallenge.md == md)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def complete_challenge(uow: UnitOfWork, md: str) -> bool:
    """Mark the challenge answered; False when it already was (a second PaRes is ignored)."""
    challenge = get_challenge(uow, md)
    if challenge is None or challenge.completed_at is not None:
        return False
    challenge.completed_at = utcnow()
    uow.session.flush()
    return True
