"""Writing one validated chunk to the ledger: three or four queries per chunk, not per row.

Each writer loads what the chunk refers to in one query per table (customers by external id,
cards by token, the records themselves by their key: :func:`._bulk.lookup_rows`), then
inserts the new records and updates the changed ones in the caller's unit of work. A row whose
reference is unknown, or that would move a card or a subscription to another customer, becomes
a row error; the rest of the chunk still lands. The rules are those of
:mod:`payflows.ledger.repo`'s upserts (a subscription's billing date is set only when it is
created; a charged one-off charge no longer changes), applied in bulk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table

from payflows.imports._bulk import Known, New, apply, lookup_rows
from payflows.imports.formats import (
    ChargeRow,
    CustomerRow,
    PaymentMethodRow,
    SubscriptionRow,
)
from payflows.imports.results import ChunkCounts, RowError
from payflows.ledger import (
    Customer,
    IntervalUnit,
    OneOffCharge,
    OneOffChargeStatus,
    PaymentMethod,
    Subscription,
    SubscriptionStatus,
    UnitOfWork,
)

__all__ = ["WRITERS"]

Rows = Sequence[tuple[int, Any]]
Writer = Callable[[UnitOfWork, Rows], tuple[ChunkCounts, list[RowError]]]

_CUSTOMERS: Table = Customer.__table__  # type: ignore[attr-defined]
_METHODS: Table = PaymentMethod.__table__  # type: ignore[attr-defined]
_SUBSCRIPTIONS: Table = Subscription.__table__  # type: ignore[attr-defined]
_CHARGES: Table = OneOffCharge.__table__  # type: ignore[attr-defined]


_CUSTOMER_FIELDS = ("email", "full_name", "phone", "country")


_CUSTOMER_COLUMNS = ("external_id", *_CUSTOMER_FIELDS)


def write_customers(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts = ChunkCounts()
    keys = {r.external_id for _, r in rows}
    known = Known(uow, _CUSTOMERS, "external_id", keys, _CUSTOMER_FIELDS)
    new = New(Customer, _CUSTOMER_COLUMNS)
    known_rows, new_rows = known.rows, new.rows
    for _, row in rows:
        assert isinstance(row, CustomerRow)
        key = row.external_id
        if key not in known_rows and key not in new_rows:  # the usual case: a new customer
            new_rows[key] = (key, row.email, row.full_name, row.phone, row.country)
            continue
        fields = {
            "email": row.email,
            "full_name": row.full_name,
            "phone": row.phone,
            "country": row.country,
        }
        _update(new, known, key, fields, counts)
    known.flush(uow)
    new.flush(uow, counts)
    return counts, []


def _update(new: New, known: Known, key: str, fields: dict[str, Any], counts: ChunkCounts) -> None:
    """Apply ``fields`` to the record under ``key``: one new in this chunk, or in the ledger."""
    pending = new.get(key)
    if pending is not None:
        apply(pending, fields, counts, known)
        new.put(pending)
    else:
        existing = known.get(key)
        assert existing is not None
        apply(existing, fields, counts, known)


def _customers(uow: UnitOfWork, rows: Rows) -> dict[str, int]:
    """Customer id by external id, for the customers this chunk refers to."""
    keys = {r.customer_external_id for _, r in rows}
    return dict(lookup_rows(uow, _CUSTOMERS, "external_id", keys, ["id"]))


def _methods(uow: UnitOfWork, rows: Rows) -> dict[str, tuple[int, int, Any]]:
    """``(id, customer_id, deleted_at)`` by token, for the cards this chunk refers to."""
    keys = {r.recurring_token for _, r in rows}
    names = ["id", "customer_id", "deleted_at"]
    # deleted_at is only tested for NULL: left as the driver reads it, not parsed into a datetime
    found = lookup_rows(uow, _METHODS, "recurring_token", keys, names, convert=False)
    return {token: (id_, customer_id, deleted_at) for token, id_, customer_id, deleted_at in found}


def _unknown_customer(line: int, external_id: str) -> RowError:
    return RowError(
        line=line,
        column="customer_external_id",
        reason="unknown customer (import the customers file first)",
    )


_METHOD_FIELDS = (
    "network_transaction_id",
    "original_amount_cents",
    "currency",
    "brand",
    "masked_pan",
    "expiry_month",
    "expiry_year",
)


_METHOD_COLUMNS = ("recurring_token", "customer_id", *_METHOD_FIELDS)


def write_payment_methods(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts, errors = ChunkCounts(), []
    customers = _customers(uow, rows)
    keys = {r.recurring_token for _, r in rows}
    known = Known(uow, _METHODS, "recurring_token", keys, _METHOD_FIELDS)
    new = New(PaymentMethod, _METHOD_COLUMNS)
    known_rows, new_rows = known.rows, new.rows
    for line, row in rows:
        assert isinstance(row, PaymentMethodRow)
        customer_id = customers.get(row.customer_external_id)
        if customer_id is None:
            errors.append(_unknown_customer(line, row.customer_external_id))
            continue
        key = row.recurring_token
        if key not in known_rows and key not in new_rows:  # the usual case: a new card
            new_rows[key] = (
                key,
                customer_id,
                row.network_transaction_id,
                row.original_amount_cents,
                row.currency,
                row.brand,
                row.masked_pan,
                row.expiry_month,
                row.expiry_year,
            )
            continue
        fields = {
            "network_transaction_id": row.network_transaction_id,
            "original_amount_cents": row.original_amount_cents,
            "currency": row.currency,
            "brand": row.brand,
            "masked_pan": row.masked_pan,
            "expiry_month": row.expiry_month,
            "expiry_year": row.expiry_year,
        }
        owner = (new.get(key) or known.get(key) or {})["customer_id"]
        if owner != customer_id:
            errors.append(
                RowError(
                    line=line,
                    column="recurring_token",
                    reason="this token is stored for another customer; a token never moves",
                )
            )
            continue
        if row.network_transaction_id is None:
            fields.pop("network_transaction_id")  # absent means "keep what we have"
        _update(new, known, key, fields, counts)
    known.flush(uow)
    new.flush(uow, counts)
    return counts, errors


def _usable_cards(methods: dict[str, tuple[int, int, Any]]) -> dict[str, tuple[int, int]]:
    """``(customer id, payment method id)`` by token, for the cards not deleted: a row whose
    customer owns its card takes it from here; any other row is told why by :func:`_card_for`."""
    return {
        token: (customer_id, method_id)
        for token, (method_id, customer_id, deleted_at) in methods.items()
        if deleted_at is None
    }


def _card_for(
    line: int, row: Any, customers: dict[str, int], methods: dict[str, tuple[int, int, Any]]
) -> tuple[int, int] | RowError:
    """``(customer id, payment method id)`` of a row, or why it cannot have them."""
    customer_id = customers.get(row.customer_external_id)
    method = methods.get(row.recurring_token)
    if customer_id is not None and method is not None:
        method_id, owner, deleted_at = method
        if owner == customer_id and deleted_at is None:  # the usual case
            return customer_id, method_id
    if customer_id is None:
        return _unknown_customer(line, row.customer_external_id)
    if method is None:
        return RowError(
            line=line,
            column="recurring_token",
            reason="unknown recurring_token (import the payment methods file first)",
        )
    if method[1] != customer_id:
        return RowError(
            line=line,
            column="recurring_token",
            reason="this token belongs to another customer than customer_external_id",
        )
    return RowError(
        line=line, column="recurring_token", reason="this token was deleted at the gateway"
    )


_SUBSCRIPTION_FIELDS = (
    "payment_method_id",
    "plan",
    "amount_cents",
    "currency",
    "interval_unit",
    "interval_count",
)


_SUBSCRIPTION_COLUMNS = (
    "external_id",
    "customer_id",
    *_SUBSCRIPTION_FIELDS,
    "next_billing_at",
    "anchor_day",
    "status",
    "failed_attempts",
)


_INTERVAL_UNITS = {unit.value: unit for unit in IntervalUnit}


def write_subscriptions(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts, errors = ChunkCounts(), []
    customers, methods = _customers(uow, rows), _methods(uow, rows)
    keys = {r.external_id for _, r in rows}
    known = Known(uow, _SUBSCRIPTIONS, "external_id", keys, _SUBSCRIPTION_FIELDS)
    new = New(Subscription, _SUBSCRIPTION_COLUMNS)
    active = SubscriptionStatus.ACTIVE
    cards = _usable_cards(methods)
    known_rows, new_rows = known.rows, new.rows
    anchors: dict[datetime, int] = {}
    for line, row in rows:
        assert isinstance(row, SubscriptionRow)
        card = cards.get(row.recurring_token)
        if card is not None and card[0] == customers.get(row.customer_external_id):
            customer_id, method_id = card  # the usual case
        else:
            found = _card_for(line, row, customers, methods)
            if isinstance(found, RowError):
                errors.append(found)
                continue
            customer_id, method_id = found
        key = row.external_id
        interval = _INTERVAL_UNITS[row.interval]
        if key not in known_rows and key not in new_rows:  # the usual case: a new subscription
            first = row.first_billing_at
            anchor = anchors.get(first)
            if anchor is None:  # a chunk has a few billing dates: each one's day computed once
                anchor = anchors[first] = first.astimezone(UTC).day
            new_rows[key] = (
                key,
                customer_id,
                method_id,
                row.plan,
                row.amount_cents,
                row.currency,
                interval,
                row.interval_count,
                first,
                anchor,
                active,
                0,
            )
            continue
        fields = {
            "payment_method_id": method_id,
            "plan": row.plan,
            "amount_cents": row.amount_cents,
            "currency": row.currency,
            "interval_unit": interval,
            "interval_count": row.interval_count,
        }
        owner = (new.get(key) or known.get(key) or {})["customer_id"]
        if owner != customer_id:
            errors.append(
                RowError(
                    line=line,
                    column="customer_external_id",
                    reason="this subscription belongs to another customer",
                )
            )
        else:
            # next_billing_at belongs to the billing run once the subscription exists.
            _update(new, known, key, fields, counts)
    known.flush(uow)
    new.flush(uow, counts)
    return counts, errors


_CHARGE_FIELDS = ("payment_method_id", "amount_cents", "currency", "description", "charge_on")


_CHARGE_COLUMNS = ("external_id", "customer_id", *_CHARGE_FIELDS, "status")


def write_charges(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts, errors = ChunkCounts(), []
    customers, methods = _customers(uow, rows), _methods(uow, rows)
    keys = {r.external_id for _, r in rows}
    known = Known(uow, _CHARGES, "external_id", keys, _CHARGE_FIELDS)
    new = New(OneOffCharge, _CHARGE_COLUMNS)
    planned = OneOffChargeStatus.PLANNED
    cards = _usable_cards(methods)
    known_rows, new_rows = known.rows, new.rows
    for line, row in rows:
        assert isinstance(row, ChargeRow)
        card = cards.get(row.recurring_token)
        if card is not None and card[0] == customers.get(row.customer_external_id):
            customer_id, method_id = card  # the usual case
        else:
            found = _card_for(line, row, customers, methods)
            if isinstance(found, RowError):
                errors.append(found)
                continue
            customer_id, method_id = found
        key = row.external_id
        if key not in known_rows and key not in new_rows:  # the usual case: a new charge
            new_rows[key] = (
                key,
                customer_id,
                method_id,
                row.amount_cents,
                row.currency,
                row.description,
                row.charge_on,
                planned,
            )
            continue
        fields = {
            "payment_method_id": method_id,
            "amount_cents": row.amount_cents,
            "currency": row.currency,
            "description": row.description,
            "charge_on": row.charge_on,
        }
        existing = new.get(key) or known.get(key) or {}
        if existing["customer_id"] != customer_id:
            errors.append(
                RowError(
                    line=line,
                    column="customer_external_id",
                    reason="this charge belongs to another customer",
                )
            )
        elif (why := _frozen(existing)) and any(existing[k] != v for k, v in fields.items()):
            errors.append(
                RowError(
                    line=line,
                    column="external_id",
                    reason=f"this charge is already {why}; it can no longer change",
                )
            )
        else:
            _update(new, known, key, fields, counts)
    known.flush(uow)
    new.flush(uow, counts)
    return counts, errors


def _frozen(charge: dict[str, Any]) -> str | None:
    """Why a one-off charge may no longer change: charged, failed, cancelled, or the billing
    run has an attempt for it (its amount stands); None while it is only planned."""
    status = OneOffChargeStatus(charge["status"])
    if status is not OneOffChargeStatus.PLANNED:
        return status.value
    return "being charged" if charge.get("attempt_id") is not None else None


WRITERS: dict[str, Writer] = {
    "customers": write_customers,
    "payment_methods": write_payment_methods,
    "subscriptions": write_subscriptions,
    "one_off_charges": write_charges,
}
