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

from sqlalchemy import Table, bindparam, update

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

_CUSTOMERS: Table = Customer.__table__  # type: ignore[attr-defined]
_METHODS: Table = PaymentMethod.__table__  # type: ignore[attr-defined]
_SUBSCRIPTIONS: Table = Subscription.__table__  # type: ignore[attr-defined]
_CHARGES: Table = OneOffCharge.__table__  # type: ignore[attr-defined]


_IN_BATCH = 5000


def _lookup(
    uow: UnitOfWork, table: Table, key: str, keys: set[str], names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``{key: {name: value}}`` for the keys already in ``table``: ``IN`` queries of plain rows.

    Only the columns the writer needs, sent to the driver as plain SQL (the same on SQLite and
    PostgreSQL) and read back through each column's own type. Loading ORM objects cost more
    than everything else the import does, and even a Core ``IN`` compiles a bound parameter
    per key on every chunk.
    """
    if not keys:
        return {}
    conn = uow.session.connection()
    dialect = conn.dialect
    columns = [table.c[key], *(table.c[n] for n in names)]
    processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    select_list = ", ".join(c.name for c in columns)
    convert = [(i, p) for i, p in enumerate(processors) if p is not None]
    labels = (key, *names)
    every = list(keys)
    found: dict[str, dict[str, Any]] = {}
    cursor = conn.connection.cursor()  # the DBAPI cursor: plain tuples, no Row objects
    try:
        for start in range(0, len(every), _IN_BATCH):
            batch = every[start : start + _IN_BATCH]
            cursor.execute(
                f"SELECT {select_list} FROM {table.name} "
                f"WHERE {key} IN ({', '.join([mark] * len(batch))})",
                batch,
            )
            for row in cursor.fetchall():
                record = dict(zip(labels, row, strict=True))
                for i, process in convert:
                    value = row[i]
                    if value is not None:
                        record[labels[i]] = process(value)
                found[record[key]] = record
    finally:
        cursor.close()
    return found


class _Known:
    """Records of this chunk already in the ledger, as ``{column: value}`` dicts with their id.

    A changed one is remembered and written back by :meth:`flush` in one ``executemany``
    UPDATE per set of columns, instead of an ORM flush per object.
    """

    def __init__(
        self, uow: UnitOfWork, table: Table, key: str, keys: set[str], fields: Sequence[str]
    ):
        self.table, self.fields = table, tuple(fields)
        extra = ("customer_id", "status", "attempt_id")
        names = ["id", *(f for f in (*self.fields, *extra) if f in table.c)]
        self.rows: dict[str, dict[str, Any]] = _lookup(uow, table, key, keys, names)
        self.changed: dict[int, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.rows.get(key)

    def flush(self, uow: UnitOfWork) -> None:
        if not self.changed:
            return
        now = utcnow()
        stmt = (
            update(self.table)
            .where(self.table.c.id == bindparam("_id"))
            .values({f: bindparam(f) for f in (*self.fields, "updated_at")})
        )
        params = [
            {"_id": row_id, "updated_at": now, **{f: row[f] for f in self.fields}}
            for row_id, row in self.changed.items()
        ]
        uow.session.execute(stmt, params)


def _apply(obj: dict[str, Any], fields: dict[str, Any], counts: ChunkCounts, known: _Known) -> None:
    """Update a record: one already in the ledger (``id`` set) or one new in this chunk."""
    changed = False
    for name, value in fields.items():
        if obj.get(name) != value:
            obj[name] = value
            changed = True
    if changed:
        if "id" in obj and obj["id"] is not None:
            known.changed[obj["id"]] = obj
        counts.updated += 1
    else:
        counts.unchanged += 1


class _New:
    """Records new in this chunk, inserted at the end by one ``executemany``.

    ``INSERT ... ON CONFLICT (key) DO NOTHING`` (the same SQL on SQLite and PostgreSQL) sent
    to the driver directly, each value converted by its column's own SQLAlchemy type (the
    processors fetched once per chunk): no ORM objects, no primary keys fetched back, and none
    of the per-row parameter bookkeeping of a compiled Core statement, which cost more than
    SQLite's own work. ``ON CONFLICT`` keeps a concurrent import of the same file harmless.
    """

    def __init__(self, model: Any, key: str) -> None:
        self.table: Table = model.__table__
        self.key = key
        self.rows: dict[str, dict[str, Any]] = {}
        self.now = utcnow()
        self.inserted = 0  # counted here, added to the chunk's counts once by flush

    def add(self, key: str, counts: ChunkCounts, **values: Any) -> dict[str, Any]:
        self.rows[key] = row = {self.key: key, **values}
        self.inserted += 1
        return row

    def flush(self, uow: UnitOfWork, counts: ChunkCounts) -> None:
        counts.inserted += self.inserted
        if not self.rows:
            return
        conn = uow.session.connection()
        dialect = conn.dialect
        names = list(next(iter(self.rows.values())))
        processors = [_processor(self.table.c[n], dialect) for n in names]
        convert = [(n, p) for n, p in zip(names, processors, strict=True) if p is not None]
        stamp_process = _processor(self.table.c.created_at, dialect)
        stamp = stamp_process(self.now) if stamp_process else self.now
        params = []
        for row in self.rows.values():
            for name, process in convert:
                value = row[name]
                if value is not None:
                    row[name] = process(value)
            params.append((*row.values(), stamp, stamp))
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"INSERT INTO {self.table.name} ({', '.join(names)}, created_at, updated_at) "
            f"VALUES ({', '.join([mark] * (len(names) + 2))}) "
            f"ON CONFLICT ({self.key}) DO NOTHING"
        )
        self.rows = {}
        conn.exec_driver_sql(sql, params)


def _processor(column: Any, dialect: Any) -> Any:
    """The function that turns a Python value into what ``dialect``'s driver takes, or None."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _pending(new: _New, known: _Known, key: str) -> dict[str, Any] | None:
    """The record under ``key`` as this chunk last left it: new in it, or in the ledger."""
    return new.rows.get(key) or known.get(key)


_CUSTOMER_FIELDS = ("email", "full_name", "phone", "country")


def write_customers(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts = ChunkCounts()
    keys = {r.external_id for _, r in rows}
    known = _Known(uow, _CUSTOMERS, "external_id", keys, _CUSTOMER_FIELDS)
    new = _New(Customer, "external_id")
    for _, row in rows:
        assert isinstance(row, CustomerRow)
        fields = {
            "email": row.email,
            "full_name": row.full_name,
            "phone": row.phone,
            "country": row.country,
        }
        existing = _pending(new, known, row.external_id)
        if existing is None:
            new.add(row.external_id, counts, **fields)
        else:
            _apply(existing, fields, counts, known)
    known.flush(uow)
    new.flush(uow, counts)
    return counts, []


def _customers(uow: UnitOfWork, rows: Rows) -> dict[str, int]:
    """Customer id by external id, for the customers this chunk refers to."""
    keys = {r.customer_external_id for _, r in rows}
    found = _lookup(uow, _CUSTOMERS, "external_id", keys, ["id"])
    return {k: row["id"] for k, row in found.items()}


def _methods(uow: UnitOfWork, rows: Rows) -> dict[str, dict[str, Any]]:
    """``id``, ``customer_id`` and ``deleted_at`` by token, for the cards this chunk refers to."""
    keys = {r.recurring_token for _, r in rows}
    return _lookup(uow, _METHODS, "recurring_token", keys, ["id", "customer_id", "deleted_at"])


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


def write_payment_methods(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts, errors = ChunkCounts(), []
    customers = _customers(uow, rows)
    keys = {r.recurring_token for _, r in rows}
    known = _Known(uow, _METHODS, "recurring_token", keys, _METHOD_FIELDS)
    new = _New(PaymentMethod, "recurring_token")
    for line, row in rows:
        assert isinstance(row, PaymentMethodRow)
        customer_id = customers.get(row.customer_external_id)
        if customer_id is None:
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
        existing = _pending(new, known, row.recurring_token)
        if existing is None:
            new.add(row.recurring_token, counts, customer_id=customer_id, **fields)
        elif existing["customer_id"] != customer_id:
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
            _apply(existing, fields, counts, known)
    known.flush(uow)
    new.flush(uow, counts)
    return counts, errors


def _card_for(
    line: int, row: Any, customers: dict[str, int], methods: dict[str, dict[str, Any]]
) -> tuple[int, int] | RowError:
    """``(customer id, payment method id)`` of a row, or why it cannot have them."""
    customer_id = customers.get(row.customer_external_id)
    if customer_id is None:
        return _unknown_customer(line, row.customer_external_id)
    method = methods.get(row.recurring_token)
    if method is None:
        return RowError(
            line=line,
            column="recurring_token",
            reason="unknown recurring_token (import the payment methods file first)",
        )
    if method["customer_id"] != customer_id:
        return RowError(
            line=line,
            column="recurring_token",
            reason="this token belongs to another customer than customer_external_id",
        )
    if method["deleted_at"] is not None:
        return RowError(
            line=line, column="recurring_token", reason="this token was deleted at the gateway"
        )
    return customer_id, method["id"]


_SUBSCRIPTION_FIELDS = (
    "payment_method_id",
    "plan",
    "amount_cents",
    "currency",
    "interval_unit",
    "interval_count",
)


def write_subscriptions(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts, errors = ChunkCounts(), []
    customers, methods = _customers(uow, rows), _methods(uow, rows)
    keys = {r.external_id for _, r in rows}
    known = _Known(uow, _SUBSCRIPTIONS, "external_id", keys, _SUBSCRIPTION_FIELDS)
    new = _New(Subscription, "external_id")
    for line, row in rows:
        assert isinstance(row, SubscriptionRow)
        found = _card_for(line, row, customers, methods)
        if isinstance(found, RowError):
            errors.append(found)
            continue
        customer_id, method_id = found
        fields = {
            "payment_method_id": method_id,
            "plan": row.plan,
            "amount_cents": row.amount_cents,
            "currency": row.currency,
            "interval_unit": IntervalUnit(row.interval),
            "interval_count": row.interval_count,
        }
        existing = _pending(new, known, row.external_id)
        if existing is None:
            new.add(
                row.external_id,
                counts,
                customer_id=customer_id,
                next_billing_at=row.first_billing_at,
                anchor_day=row.first_billing_at.astimezone(UTC).day,
                status=SubscriptionStatus.ACTIVE,
                failed_attempts=0,
                **fields,
            )
        elif existing["customer_id"] != customer_id:
            errors.append(
                RowError(
                    line=line,
                    column="customer_external_id",
                    reason="this subscription belongs to another customer",
                )
            )
        else:
            # next_billing_at belongs to the billing run once the subscription exists.
            _apply(existing, fields, counts, known)
    known.flush(uow)
    new.flush(uow, counts)
    return counts, errors


_CHARGE_FIELDS = ("payment_method_id", "amount_cents", "currency", "description", "charge_on")


def write_charges(uow: UnitOfWork, rows: Rows) -> tuple[ChunkCounts, list[RowError]]:
    counts, errors = ChunkCounts(), []
    customers, methods = _customers(uow, rows), _methods(uow, rows)
    keys = {r.external_id for _, r in rows}
    known = _Known(uow, _CHARGES, "external_id", keys, _CHARGE_FIELDS)
    new = _New(OneOffCharge, "external_id")
    for line, row in rows:
        assert isinstance(row, ChargeRow)
        found = _card_for(line, row, customers, methods)
        if isinstance(found, RowError):
            errors.append(found)
            continue
        customer_id, method_id = found
        fields = {
            "payment_method_id": method_id,
            "amount_cents": row.amount_cents,
            "currency": row.currency,
            "description": row.description,
            "charge_on": row.charge_on,
        }
        existing = _pending(new, known, row.external_id)
        if existing is None:
            new.add(
                row.external_id,
                counts,
                customer_id=customer_id,
                status=OneOffChargeStatus.PLANNED,
                **fields,
            )
        elif existing["customer_id"] != customer_id:
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
            _apply(existing, fields, counts, known)
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
