"""Writing one validated chunk to the ledger: three or four queries per chunk, not per row.

Each writer loads what the chunk refers to in one ``IN`` query per table (customers by external
id, cards by token, the records themselves by their key), then inserts the new records and
updates the changed ones in the caller's unit of work. A row whose reference is unknown, or
that would move a card or a subscription to another customer, becomes a row error; the rest of
the chunk still lands. The rules are those of :mod:`payflows.ledger.repo`'s upserts (a
subscription's billing date is set only when it is created; a charged one-off charge no longer
changes), applied in bulk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

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
from payflows.ledger.models import utcnow

__all__ = ["WRITERS"]

Rows = Sequence[tuple[int, Any]]
Writer = Callable[[UnitOfWork, Rows], tuple[ChunkCounts, list[RowError]]]


def _by(uow: UnitOfWork, model: Any, column: Any, keys: set[str]) -> dict[str, Any]:
    if not keys:
        return {}
    rows = uow.session.exec(select(model).where(col(column).in_(keys))).all()
    return {getattr(r, column.key): r for r in rows}


def _apply(obj: Any, fields: dict[str, Any], counts: ChunkCounts) -> None:
    """Update an existing record (an ORM object, or the values of a row new in this chunk)."""
    changed = False
    for name, value in fields.items():
        current = obj.get(name) if isinstance(obj, dict) else getattr(obj, name)
        if current != value:
            if isinstance(obj, dict):
                obj[name] = value
            else:
                setattr(obj, name, value)
            changed = True
    if changed:
        if not isinstance(obj, dict):
            obj.updated_at = utcnow()
        counts.updated += 1
    else:
        counts.unchanged += 1


class _New:
    """Records new in this chunk, inserted at the end in one multi-row statement.

    Core ``INSERT ... ON CONFLICT DO NOTHING`` with many rows rather than ORM objects: no
    identity map to fill and no primary keys to fetch back, so inserting costs about what
    updating does. ``ON CONFLICT`` keeps a concurrent import of the same file harmless.
    """

    def __init__(self, model: Any, key: str) -> None:
        self.model, self.key = model, key
        self.rows: dict[str, dict[str, Any]] = {}
        self.now = utcnow()

    def add(self, key: str, counts: ChunkCounts, **values: Any) -> dict[str, Any]:
        now = self.now
        self.rows[key] = row = {self.key: key, "created_at": now, "updated_at": now, **values}
        counts.inserted += 1
        return row

    def flush(self, uow: UnitOfWork) -> None:
        if not self.rows:
            return
        table = self.model.__table__
        insert = pg_insert(table) if uow.dialect == "postgresql" else sqlite_insert(table)
        stmt = insert.on_conflict_do_nothing(index_elements=[self.key])
        uow.session.execute(stmt, list(self.rows.values()))


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def write_customers(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts = ChunkCounts()
    known: dict[str, Any] = _by(
        uow, Customer, Customer.external_id, {r.external_id for _, r in rows}
    )
    new = _New(Customer, "external_id")
    for _, row in rows:
        assert isinstance(row, CustomerRow)
        fields = {
            "email": row.email,
            "full_name": row.full_name,
            "phone": row.phone,
            "country": row.country,
        }
        existing = known.get(row.external_id)
        if existing is None:
            known[row.external_id] = new.add(row.external_id, counts, **fields)
        else:
            _apply(existing, fields, counts)
    new.flush(uow)
    return counts, []


def _customers(uow: UnitOfWork, rows: Rows) -> dict[str, Customer]:
    return _by(uow, Customer, Customer.external_id, {r.customer_external_id for _, r in rows})


def _methods(uow: UnitOfWork, rows: Rows) -> dict[str, PaymentMethod]:
    return _by(
        uow, PaymentMethod, PaymentMethod.recurring_token, {r.recurring_token for _, r in rows}
    )


def _unknown_customer(line: int, external_id: str) -> RowError:
    return RowError(
        line=line,
        column="customer_external_id",
        reason="unknown customer (import the customers file first)",
    )


def write_payment_methods(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts, errors = ChunkCounts(), []
    customers = _customers(uow, rows)
    known: dict[str, Any] = _methods(uow, rows)
    new = _New(PaymentMethod, "recurring_token")
    for line, row in rows:
        assert isinstance(row, PaymentMethodRow)
        customer = customers.get(row.customer_external_id)
        if customer is None:
            errors.append(_unknown_customer(line, row.customer_external_id))
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
        existing = known.get(row.recurring_token)
        if existing is None:
            known[row.recurring_token] = new.add(
                row.recurring_token, counts, customer_id=customer.id, **fields
            )
        elif _get(existing, "customer_id") != customer.id:
            errors.append(
                RowError(
                    line=line,
                    column="recurring_token",
                    reason="this token is stored for another customer; a token never moves",
                )
            )
        else:
            if row.network_transaction_id is None:
                fields.pop("network_transaction_id")  # absent means "keep what we have"
            _apply(existing, fields, counts)
    new.flush(uow)
    return counts, errors


def _card_for(
    line: int, row: Any, customers: dict[str, Customer], methods: dict[str, PaymentMethod]
) -> tuple[Customer, PaymentMethod] | RowError:
    customer = customers.get(row.customer_external_id)
    if customer is None:
        return _unknown_customer(line, row.customer_external_id)
    method = methods.get(row.recurring_token)
    if method is None:
        return RowError(
            line=line,
            column="recurring_token",
            reason="unknown recurring_token (import the payment methods file first)",
        )
    if method.customer_id != customer.id:
        return RowError(
            line=line,
            column="recurring_token",
            reason="this token belongs to another customer than customer_external_id",
        )
    if method.deleted_at is not None:
        return RowError(
            line=line, column="recurring_token", reason="this token was deleted at the gateway"
        )
    return customer, method


def write_subscriptions(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts, errors = ChunkCounts(), []
    customers, methods = _customers(uow, rows), _methods(uow, rows)
    known: dict[str, Any] = _by(
        uow, Subscription, Subscription.external_id, {r.external_id for _, r in rows}
    )
    new = _New(Subscription, "external_id")
    for line, row in rows:
        assert isinstance(row, SubscriptionRow)
        found = _card_for(line, row, customers, methods)
        if isinstance(found, RowError):
            errors.append(found)
            continue
        customer, method = found
        fields = {
            "payment_method_id": method.id,
            "plan": row.plan,
            "amount_cents": row.amount_cents,
            "currency": row.currency,
            "interval_unit": IntervalUnit(row.interval),
            "interval_count": row.interval_count,
        }
        existing = known.get(row.external_id)
        if existing is None:
            known[row.external_id] = new.add(
                row.external_id,
                counts,
                customer_id=customer.id,
                next_billing_at=row.first_billing_at,
                anchor_day=row.first_billing_at.astimezone(UTC).day,
                status=SubscriptionStatus.ACTIVE,
                failed_attempts=0,
                **fields,
            )
        elif _get(existing, "customer_id") != customer.id:
            errors.append(
                RowError(
                    line=line,
                    column="customer_external_id",
                    reason="this subscription belongs to another customer",
                )
            )
        else:
            # next_billing_at belongs to the billing run once the subscription exists.
            _apply(existing, fields, counts)
    new.flush(uow)
    return counts, errors


def write_charges(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts, errors = ChunkCounts(), []
    customers, methods = _customers(uow, rows), _methods(uow, rows)
    known: dict[str, Any] = _by(
        uow, OneOffCharge, OneOffCharge.external_id, {r.external_id for _, r in rows}
    )
    new = _New(OneOffCharge, "external_id")
    for line, row in rows:
        assert isinstance(row, ChargeRow)
        found = _card_for(line, row, customers, methods)
        if isinstance(found, RowError):
            errors.append(found)
            continue
        customer, method = found
        fields = {
            "payment_method_id": method.id,
            "amount_cents": row.amount_cents,
            "currency": row.currency,
            "description": row.description,
            "charge_on": row.charge_on,
        }
        existing = known.get(row.external_id)
        if existing is None:
            known[row.external_id] = new.add(
                row.external_id,
                counts,
                customer_id=customer.id,
                status=OneOffChargeStatus.PLANNED,
                **fields,
            )
        elif _get(existing, "customer_id") != customer.id:
            errors.append(
                RowError(
                    line=line,
                    column="customer_external_id",
                    reason="this charge belongs to another customer",
                )
            )
        elif _frozen(existing) and any(_get(existing, k) != v for k, v in fields.items()):
            errors.append(
                RowError(
                    line=line,
                    column="external_id",
                    reason=f"this charge is already {_frozen(existing)}; it can no longer change",
                )
            )
        else:
            _apply(existing, fields, counts)
    new.flush(uow)
    return counts, errors


def _frozen(charge: Any) -> str | None:
    """Why a one-off charge may no longer change: charged, failed, cancelled, or the billing
    run has an attempt for it (its amount stands); None while it is only planned."""
    status = OneOffChargeStatus(_get(charge, "status"))
    if status is not OneOffChargeStatus.PLANNED:
        return status.value
    attempt = charge.get("attempt_id") if isinstance(charge, dict) else charge.attempt_id
    return "being charged" if attempt is not None else None


WRITERS: dict[str, Writer] = {
    "customers": write_customers,
    "payment_methods": write_payment_methods,
    "subscriptions": write_subscriptions,
    "one_off_charges": write_charges,
}
