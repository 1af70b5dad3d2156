"""Small helpers every ledger aggregate module shares: chunking, the dialect's INSERT, checks.

Nothing here commits: the caller's :class:`~payflows.ledger.db.UnitOfWork` does. Inserts that
must happen once under concurrency use ``INSERT ... ON CONFLICT DO NOTHING`` on both SQLite and
PostgreSQL (:func:`insert_for`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel

from payflows.ledger.db import UnitOfWork

__all__ = [
    "CHUNK",
    "aware",
    "cents",
    "chunks",
    "insert_for",
    "masked",
    "non_negative",
    "set_fields",
    "table_of",
]

#: Rows per statement in bulk calls: far below SQLite's bound-parameter limit.
CHUNK = 500

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def table_of(model: type[SQLModel]) -> Table:
    """The table of a sqlmodel class, typed (``Model.__table__`` is not, to mypy)."""
    table = sa_inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


def insert_for(uow: UnitOfWork, model: type[SQLModel] | Table) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT DO NOTHING`` on both backends."""
    table = model if isinstance(model, Table) else table_of(model)
    return pg_insert(table) if uow.dialect == "postgresql" else sqlite_insert(table)


def aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC)")
    return value


def cents(value: int, name: str = "amount_cents") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int number of cents, got {type(value).__name__}")
    return value


def non_negative(value: int) -> int:
    if cents(value) < 0:
        raise ValueError("amount_cents must not be negative (a refund is its own kind)")
    return value


_PAN_SHAPED = re.compile(r"^\d{12,19}$")


def masked(value: str | None) -> str | None:
    """Refuse a full PAN where a masked one belongs, without echoing it."""
    if value is not None and _PAN_SHAPED.match(re.sub(r"[\s-]", "", value)):
        raise ValueError("masked_pan looks like a full card number; store mask_pan(number)")
    return value


def set_fields(obj: Any, now: datetime, **fields: Any) -> bool:
    """Set the fields given (None means "not given") that differ; touch updated_at if any did."""
    changed = False
    for name, value in fields.items():
        if value is not None and getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    if changed:
        obj.updated_at = now
    return changed
