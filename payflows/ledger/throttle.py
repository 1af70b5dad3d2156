"""Failed checkout attempts per client, kept in the ledger so that every web process sees them.

A card tester who is refused by one web instance must not start again on the next one, nor
after a restart: the count of a client's recent failures therefore lives in the database all
instances share, not in a process's memory. One row per failure (client, time); the checkout's
limiter (``apps/web/guard.py``) asks :func:`blocked_until` before it reads a card and calls
:func:`record_failure` after a decline, an invalid card or a refused order. Old rows are
deleted by :func:`prune_failures` (the limiter does it now and then), so the table holds about
one window of failures.

The table is :class:`~payflows.ledger.models.CheckoutFailure` (migration 0007). Time is always
a parameter: the caller says what "now" is. Portable to SQLite and PostgreSQL (plain SELECT,
INSERT and DELETE).

Nothing here is card data: the client is the network address the request came from (or a
SHA-256 of a longer key), never anything the shopper typed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, delete, select

from payflows.ledger._common import aware
from payflows.ledger.db import UnitOfWork
from payflows.ledger.models import CheckoutFailure

__all__ = [
    "MAX_CLIENT_KEY",
    "CheckoutFailure",
    "blocked_until",
    "client_key",
    "count_failures",
    "prune_failures",
    "record_failure",
]

#: Longest client key stored as it is (an IPv6 address is at most 45 characters).
MAX_CLIENT_KEY = 64


def client_key(client: str) -> str:
    """The key stored for ``client``: itself when short enough, else its SHA-256 (64 hex)."""
    if not client:
        raise ValueError("client must not be empty")
    if len(client) <= MAX_CLIENT_KEY:
        return client
    return hashlib.sha256(client.encode("utf-8", "surrogatepass")).hexdigest()


def record_failure(uow: UnitOfWork, client: str, at: datetime) -> None:
    """Count one failure of ``client`` at ``at`` (the caller commits)."""
    uow.session.add(CheckoutFailure(client=client_key(client), failed_at=aware(at, "at")))
    uow.session.flush()


def count_failures(uow: UnitOfWork, client: str, since: datetime) -> int:
    """How many failures ``client`` had after ``since`` (the window's start, excluded)."""
    stmt = (
        select(func.count())
        .select_from(CheckoutFailure)
        .where(col(CheckoutFailure.client) == client_key(client))
        .where(col(CheckoutFailure.failed_at) > aware(since, "since"))
    )
    return int(uow.session.exec(stmt).one())


def blocked_until(uow: UnitOfWork, client: str, *, since: datetime, limit: int) -> datetime | None:
    """When the failure of ``client`` that keeps it at ``limit`` happened, or None if it is not.

    ``client`` is blocked while it has ``limit`` or more failures after ``since``. It may try
    again once its ``limit``-th newest failure leaves the window, so the answer is that
    failure's time (the caller adds the window's length). One indexed query, whatever the count:
    several processes may have let a few more failures in at the same moment.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    stmt = (
        select(CheckoutFailure.failed_at)
        .where(col(CheckoutFailure.client) == client_key(client))
        .where(col(CheckoutFailure.failed_at) > aware(since, "since"))
        .order_by(col(CheckoutFailure.failed_at).desc())
        .offset(limit - 1)
        .limit(1)
    )
    found = uow.session.exec(stmt).first()
    return aware(found, "failed_at") if found is not None else None


def prune_failures(uow: UnitOfWork, before: datetime) -> int:
    """Delete every failure at or before ``before`` (all clients); how many went."""
    result = uow.session.exec(
        delete(CheckoutFailure).where(col(CheckoutFailure.failed_at) <= aware(before, "before"))
    )
    return int(result.rowcount or 0)
