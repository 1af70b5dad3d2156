"""Claiming due work for a billing run: lease a batch, move skipped periods, commit intents.

Subscriptions and one-off charges are claimed in batches under a short lease that the run's
heartbeat renews (:class:`payflows.exactly_once.Heartbeat`); the intents of a batch are
committed with its claim, so a crash right after leaves attempts that the next run finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update

from payflows.billing.items import Item, Run
from payflows.billing.one_off import claim_due_one_offs, one_off_key
from payflows.billing.schedule import period_to_bill
from payflows.billing.summary import count, expected_key
from payflows.gateway import CardFlags, Product, PurchaseRequest
from payflows.ledger import (
    AttemptKind,
    Customer,
    Intent,
    IntervalUnit,
    OneOffCharge,
    OneOffChargeStatus,
    PaymentAttempt,
    PaymentMethod,
    Subscription,
    SubscriptionStatus,
    UnitOfWork,
)
from payflows.ledger._common import table_of
from payflows.ledger.cards import CARD_DELETED
from payflows.ledger.grouped import insert_intents
from payflows.ledger.many import execute_many, rows_in
from payflows.ledger.subscriptions import claim_due_subscription_rows

__all__ = ["CARD_DELETED_REASON", "NO_METHOD", "claim_one_offs", "claim_subscriptions"]


#: The columns of a claimed subscription the claim reads (plain rows, no ORM objects).
_SUB_COLUMNS = (
    "id",
    "customer_id",
    "payment_method_id",
    "plan",
    "amount_cents",
    "currency",
    "interval_unit",
    "interval_count",
    "next_billing_at",
    "anchor_day",
    "failed_attempts",
)
_METHOD_COLUMNS = (
    "id",
    "recurring_token",
    "network_transaction_id",
    "original_amount_cents",
    "brand",
    "deleted_at",
)
_SUBS = table_of(Subscription)
_ATTEMPTS = table_of(PaymentAttempt)
_CUSTOMERS = table_of(Customer)
_METHODS = table_of(PaymentMethod)
_UPDATES: dict[tuple[str, ...], Any] = {}


@dataclass(slots=True)
class _Due:
    """A claimed subscription, as far as its claim needs it."""

    id: int
    customer_id: int
    payment_method_id: int | None
    plan: str
    amount_cents: int
    currency: str
    interval_unit: IntervalUnit
    interval_count: int
    next_billing_at: datetime
    anchor_day: int | None
    failed_attempts: int


class _Card(NamedTuple):
    id: int
    recurring_token: str
    network_transaction_id: str | None
    original_amount_cents: int | None
    brand: str | None
    deleted_at: datetime | None


def claim_subscriptions(run: Run, limit: int) -> list[Item] | None:
    """Lease a batch, move skipped periods on, and commit the intents, all in one commit.

    None when nothing was due; an empty list when all it claimed needed no charge. Plain SQL
    rows throughout (no ORM object is loaded or flushed): the claim of 500 subscriptions is on
    the billing run's path, and its ledger thread competes with the event loop for the GIL.
    """
    with UnitOfWork(run.ctx.engine) as uow:
        claimed = claim_due_subscription_rows(
            uow, run.as_of, run.worker_id, limit, run.lease_seconds, _SUB_COLUMNS
        )
        if not claimed:
            uow.commit()
            return None
        subs = [_Due(*row) for row in claimed]
        run.summary.claimed += len(subs)
        existing = {
            row[0]
            for row in rows_in(
                uow, _ATTEMPTS, ("business_key",), "business_key", [expected_key(s) for s in subs]
            )
        }
        customers = _clients(uow, {s.customer_id for s in subs})
        methods = _cards(uow, {s.payment_method_id for s in subs if s.payment_method_id})
        intents: list[Intent] = []
        plans: list[tuple[_Due, str | None, _Card]] = []
        changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        now = run.ctx.now()
        for sub in subs:
            values: dict[str, Any] = {}
            if sub.anchor_day is None:
                # Created before the column, or outside the import: its first billing date.
                sub.anchor_day = values["anchor_day"] = sub.next_billing_at.day
            key = expected_key(sub)
            if key not in existing and sub.failed_attempts == 0:
                period = period_to_bill(
                    sub.next_billing_at,
                    run.as_of,
                    sub.interval_unit,
                    sub.interval_count,
                    anchor_day=sub.anchor_day,
                    policy=run.catch_up,
                )
                if period is not None and period != sub.next_billing_at:
                    run.summary.skipped_periods += 1
                    sub.next_billing_at = values["next_billing_at"] = period
                    values["updated_at"] = now
                    key = expected_key(sub)
            method = methods.get(sub.payment_method_id) if sub.payment_method_id else None
            unusable = (
                method is None or method.deleted_at is not None or sub.customer_id not in customers
            )
            if unusable and key not in existing:
                code, reason = _unusable(method)
                values.update(
                    status=SubscriptionStatus.SUSPENDED,
                    last_decline_code=code,
                    dunning_reason=reason,
                    claimed_by=None,
                    claimed_until=None,
                )
                run.summary.suspended += 1
                count(run.summary.dunning_reasons, reason)
            else:
                intents.append(
                    Intent(
                        key,
                        AttemptKind.MIT,
                        sub.amount_cents,
                        sub.currency,
                        customer_id=sub.customer_id,
                        subscription_id=sub.id,
                        payment_method_id=sub.payment_method_id,
                    )
                )
                plans.append((sub, customers.get(sub.customer_id), method))  # type: ignore[arg-type]
            if values:
                changes.setdefault(tuple(sorted(values)), []).append({"sid": sub.id, **values})
        _update_subscriptions(uow, changes)
        attempts = insert_intents(uow, intents)
        uow.commit()
    return [
        _item(run, sub.id, attempt, client, method, f"{run.product} {sub.plan}")
        for attempt, (sub, client, method) in zip(attempts, plans, strict=True)
    ]


def _update_subscriptions(
    uow: UnitOfWork, changes: dict[tuple[str, ...], list[dict[str, Any]]]
) -> None:
    """One driver ``executemany`` per shape of change (anchor day, skipped period, suspension)."""
    for names, rows in changes.items():
        stmt = _UPDATES.get(names)
        if stmt is None:
            stmt = _UPDATES[names] = (
                update(_SUBS)
                .where(_SUBS.c.id == bindparam("sid"))
                .values({name: bindparam(name) for name in names})
            )
        execute_many(uow, stmt, rows)


def claim_one_offs(run: Run, limit: int) -> list[Item] | None:
    """:func:`claim_subscriptions` for one-off charges: lease a batch, commit its intents.

    The plan points at its current attempt (``attempt_id``) from the same commit on.
    """
    with UnitOfWork(run.ctx.engine) as uow:
        charges = claim_due_one_offs(uow, run.as_of, run.worker_id, limit, run.lease_seconds)
        if not charges:
            uow.commit()
            return None
        run.summary.claimed += len(charges)
        run.summary.one_off_claimed += len(charges)
        keys = [one_off_key(c.external_id, c.failed_attempts) for c in charges]
        existing = set(
            uow.session.exec(
                select(PaymentAttempt.business_key).where(
                    PaymentAttempt.business_key.in_(keys)  # type: ignore[attr-defined]
                )
            ).scalars()
        )
        customers = _clients(uow, {c.customer_id for c in charges})
        methods = _cards(uow, {c.payment_method_id for c in charges})
        intents: list[Intent] = []
        plans: list[tuple[OneOffCharge, str | None, _Card]] = []
        for charge, key in zip(charges, keys, strict=True):
            method = methods.get(charge.payment_method_id)
            unusable = (
                method is None
                or method.deleted_at is not None
                or charge.customer_id not in customers
            )
            if unusable and key not in existing:
                code, reason = _unusable(method)
                charge.status = OneOffChargeStatus.FAILED
                charge.last_decline_code = code
                charge.dunning_reason = reason
                charge.claimed_by = charge.claimed_until = None
                run.summary.one_off_failed += 1
                count(run.summary.dunning_reasons, reason)
                continue
            intents.append(
                Intent(
                    key,
                    AttemptKind.MIT,
                    charge.amount_cents,
                    charge.currency,
                    customer_id=charge.customer_id,
                    payment_method_id=charge.payment_method_id,
                )
            )
            plans.append((charge, customers.get(charge.customer_id), method))  # type: ignore[arg-type]
        attempts = insert_intents(uow, intents)
        for attempt, (charge, _, _) in zip(attempts, plans, strict=True):
            if charge.attempt_id != attempt[0]:
                charge.attempt_id = attempt[0]
        uow.session.flush()
        uow.commit()
    return [
        _item(run, charge.id, attempt, client, method, charge.description, one_off=True)  # type: ignore[arg-type]
        for attempt, (charge, client, method) in zip(attempts, plans, strict=True)
    ]


NO_METHOD = "no usable payment method"
CARD_DELETED_REASON = "stored card deleted"


def _unusable(method: _Card | None) -> tuple[str, str]:
    """(last_decline_code, dunning_reason) of a charge that cannot be made: a card deleted at
    the gateway says so, so the subscription and the run summary show why billing stopped."""
    if method is not None and method.deleted_at is not None:
        return CARD_DELETED, CARD_DELETED_REASON
    return "no_payment_method", NO_METHOD


def _item(
    run: Run,
    owner_id: int,
    attempt: list[Any],
    client_id: str | None,
    method: _Card | None,
    product: str,
    *,
    one_off: bool = False,
) -> Item:
    """The work item of a charge; ``attempt`` as :data:`~payflows.ledger.grouped.INTENT_COLUMNS`."""
    _, key, state, purchase_id, amount_cents, currency = attempt
    body = None
    if client_id and method is not None:
        body = _body(
            run,
            client_id,
            currency,
            product,
            amount_cents,
            method.network_transaction_id,
            method.original_amount_cents,
        )
        body = {**body, "reference": key[:128]}
    return Item(
        owner_id=owner_id,
        key=key,
        state=state,
        purchase_id=purchase_id,
        amount_cents=amount_cents,
        currency=currency,
        body=body,
        token=method.recurring_token if method is not None else None,
        brand=method.brand if method is not None else None,
        one_off=one_off,
    )


_BODIES = 4096


def _body(run: Run, *key: Any) -> dict[str, Any]:
    """The create-purchase body for a charge, validated as a :class:`PurchaseRequest` once per
    distinct content (customers with several subscriptions share it); read-only."""
    found = run.bodies.get(key)
    if found is not None:
        run.bodies.move_to_end(key)
        return found
    client_id, currency, product, amount, network_transaction_id, original_amount = key
    request = PurchaseRequest(
        client_id=client_id,
        currency=currency,
        products=[Product(name=product, price=amount)],
        card=CardFlags(
            is_recurring=True,
            previous_network_transaction_id=network_transaction_id,
            original_amount_cents=original_amount,
        ),
        payment_method_whitelist=list(run.ctx.card_brands),
        success_redirect=run.ctx.success_redirect,
        failure_redirect=run.ctx.failure_redirect,
    )
    body = run.bodies[key] = run.ctx.gateway.purchase_body(request)
    if len(run.bodies) > _BODIES:
        run.bodies.popitem(last=False)
    return body


def _clients(uow: UnitOfWork, ids: set[int]) -> dict[int, str | None]:
    """The gateway client id of each customer found (None: the customer has none yet)."""
    return {
        row[0]: row[1]
        for row in rows_in(uow, _CUSTOMERS, ("id", "precium_client_id"), "id", list(ids))
    }


def _cards(uow: UnitOfWork, ids: set[int]) -> dict[int, _Card]:
    return {row[0]: _Card(*row) for row in rows_in(uow, _METHODS, _METHOD_COLUMNS, "id", list(ids))}
