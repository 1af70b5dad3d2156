"""Engines and the unit of work: one database transaction per step of a flow.

SQLite is the embedded default and PostgreSQL the production choice; the same code runs on
both. On SQLite the engine turns on WAL (readers never block the writer), a busy timeout (a
second writer waits instead of failing), and foreign keys. It also takes over ``BEGIN`` from
Python's ``sqlite3`` module and opens every transaction with ``BEGIN IMMEDIATE``: the module's
own handling starts no transaction for a ``SELECT`` and breaks SAVEPOINTs, and a deferred
transaction that reads before it writes can fail at once with ``database is locked`` when
another writer got in between. Taking the write lock up front makes SQLite transactions plain
serial ones, which is what the exactly-once protocol assumes.

A :class:`UnitOfWork` (after cosmicpython's) holds one session and rolls back unless
:meth:`UnitOfWork.commit` is called, so a step that fails half way leaves nothing behind.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "Transaction", "UnitOfWork", "make_engine"]

#: How long a SQLite writer waits for another one before ``database is locked``.
SQLITE_BUSY_TIMEOUT_MS = 15_000


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for a ``sqlite:///path`` or ``postgresql+psycopg://`` URL, tuned for the ledger."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        },
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (see ``_on_begin``), so sqlite3 must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if database and database != ":memory:":
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # On the driver's connection: ``exec_driver_sql`` builds an execution context and a
        # result for a statement that returns nothing, several times SQLite's own work, and
        # the billing run opens a transaction per grouped commit (hundreds a minute).
        try:
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE").close()
        except sqlite3.Error as exc:  # raised as SQLAlchemy raises it (OperationalError...)
            raise DBAPIError.instance(
                "BEGIN IMMEDIATE", None, exc, sqlite3.Error, dialect=conn.dialect
            ) from exc

    return engine


class Transaction(Protocol):
    """What the Core-SQL writers (:mod:`payflows.ledger.many`, the grouped commits) need of an
    open transaction: the connection it runs on and the backend's name. A :class:`UnitOfWork`
    is one; so is the kept connection of :class:`payflows.exactly_once.GroupedStore`."""

    @property
    def dialect(self) -> str: ...

    def connection(self) -> Connection: ...


class UnitOfWork:
    """One transaction: ``with UnitOfWork(engine) as uow: ...; uow.commit()``.

    Leaving the block without :meth:`commit` rolls everything back. Objects stay readable after
    the block (``expire_on_commit=False``, detached on close): flows hand them on to the next
    step. An object changed but not committed keeps the change in memory only.
    """

    session: Session

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Self:
        self.session = Session(self.engine, expire_on_commit=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed. Unlike rollback() it leaves the loaded
        # objects readable (detached), so a step can return what it read.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def connection(self) -> Connection:
        """The session's connection, inside its transaction (begun on first use)."""
        return self.session.connection()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``: the few queries that differ by backend ask this."""
        return self.engine.dialect.name
