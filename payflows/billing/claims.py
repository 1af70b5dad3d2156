"""Claiming due work for a billing run: lease a batch, move skipped periods, commit intents.

Subscriptions and one-off charges are claimed in batches under a short lease that the run's
heartbeat renews (:class:`payflows.exactly_once.Heartbeat`); the intents of a batch are
committed with its claim, so a crash right after leaves attempts that the next run finds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from payflows.billing.items import Item, Run
from payflows.billing.one_off import claim_due_one_offs, one_off_key
from payflows.billing.schedule import period_to_bill
from payflows.billing.summary import count, expected_key
from payflows.gateway import CardFlags, Product, PurchaseRequest
from payflows.ledger import (
    AttemptKind,
    Customer,
    Intent,
    OneOffCharge,
    OneOffChargeStatus,
    PaymentAttempt,
    PaymentMethod,
    Subscription,
    SubscriptionStatus,
    UnitOfWork,
    claim_due_subscriptions,
    record_intents,
)
from payflows.ledger.cards import CARD_DELETED

__all__ = ["CARD_DELETED_REASON", "NO_METHOD", "claim_one_offs", "claim_subscriptions"]


def claim_subscriptions(run: Run, limit: int) -> list[Item] | None:
    """Lease a batch, move skipped periods on, and commit the intents, all in one commit.

    None when nothing was due; an empty list when all it claimed needed no charge.
    """
    with UnitOfWork(run.ctx.engine) as uow:
        subs = claim_due_subscriptions(uow, run.as_of, run.worker_id, limit, run.lease_seconds)
        if not subs:
            uow.commit()
            return None
        run.summary.claimed += len(subs)
        existing = set(
            uow.session.exec(
                select(PaymentAttempt.business_key).where(
                    PaymentAttempt.business_key.in_([expected_key(s) for s in subs])  # type: ignore[attr-defined]
                )
            ).scalars()
        )
        customers = _by_id(uow, Customer, {s.customer_id for s in subs})
        methods = _by_id(uow, PaymentMethod, {s.payment_method_id for s in subs} - {None})
        intents: list[Intent] = []
        plans: list[tuple[Subscription, Customer | None, PaymentMethod]] = []
        now = run.ctx.now()
        for sub in subs:
            assert sub.id is not None
            if sub.anchor_day is None:
                # Created before the column, or outside the import: its first billing date.
                sub.anchor_day = sub.next_billing_at.day
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
                    sub.next_billing_at = period
                    sub.updated_at = now
                    key = expected_key(sub)
            method = methods.get(sub.payment_method_id) if sub.payment_method_id else None
            customer = customers.get(sub.customer_id)
            unusable = method is None or method.deleted_at is not None or customer is None
            if unusable and key not in existing:
                code, reason = _unusable(method)
                sub.status = SubscriptionStatus.SUSPENDED
                sub.last_decline_code = code
                sub.dunning_reason = reason
                sub.claimed_by = sub.claimed_until = None
                run.summary.suspended += 1
                count(run.summary.dunning_reasons, reason)
                continue
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
            plans.append((sub, customer, method))  # type: ignore[arg-type]
        attempts = record_intents(uow, intents)
        uow.session.flush()
        uow.commit()
    items = []
    for attempt, (sub, customer, method) in zip(attempts, plans, strict=True):
        items.append(
            _item(run, sub.id, attempt, customer, method, f"{run.product} {sub.plan}")  # type: ignore[arg-type]
        )
    return items


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
        customers = _by_id(uow, Customer, {c.customer_id for c in charges})
        methods = _by_id(uow, PaymentMethod, {c.payment_method_id for c in charges})
        intents: list[Intent] = []
        plans: list[tuple[OneOffCharge, Customer | None, PaymentMethod]] = []
        for charge, key in zip(charges, keys, strict=True):
            method = methods.get(charge.payment_method_id)
            customer = customers.get(charge.customer_id)
            unusable = method is None or method.deleted_at is not None or customer is None
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
            plans.append((charge, customer, method))  # type: ignore[arg-type]
        attempts = record_intents(uow, intents)
        for attempt, (charge, _, _) in zip(attempts, plans, strict=True):
            if charge.attempt_id != attempt.id:
                charge.attempt_id = attempt.id
        uow.session.flush()
        uow.commit()
    return [
        _item(run, charge.id, attempt, customer, method, charge.description, one_off=True)  # type: ignore[arg-type]
        for attempt, (charge, customer, method) in zip(attempts, plans, strict=True)
    ]


NO_METHOD = "no usable payment method"
CARD_DELETED_REASON = "stored card deleted"


def _unusable(method: PaymentMethod | None) -> tuple[str, str]:
    """(last_decline_code, dunning_reason) of a charge that cannot be made: a card deleted at
    the gateway says so, so the subscription and the run summary show why billing stopped."""
    if method is not None and method.deleted_at is not None:
        return CARD_DELETED, CARD_DELETED_REASON
    return "no_payment_method", NO_METHOD


def _item(
    run: Run,
    owner_id: int,
    attempt: PaymentAttempt,
    customer: Customer | None,
    method: PaymentMethod | None,
    product: str,
    *,
    one_off: bool = False,
) -> Item:
    body = None
    if customer is not None and customer.precium_client_id and method is not None:
        body = _body(
            run,
            customer.precium_client_id,
            attempt.currency,
            product,
            attempt.amount_cents,
            method.network_transaction_id,
            method.original_amount_cents,
        )
        body = {**body, "reference": attempt.business_key[:128]}
    return Item(
        owner_id=owner_id,
        key=attempt.business_key,
        state=attempt.state,
        purchase_id=attempt.purchase_id,
        amount_cents=attempt.amount_cents,
        currency=attempt.currency,
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


def _by_id(uow: UnitOfWork, model: Any, ids: set[Any]) -> dict[int, Any]:
    if not ids:
        return {}
    rows = uow.session.exec(select(model).where(model.id.in_(list(ids)))).scalars()
    return {row.id: row for row in rows}
