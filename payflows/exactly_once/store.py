"""One attempt store, two adapters: a commit per step, or grouped commits for many items.

The exactly-once protocol writes the same four things whoever runs it: the purchase id
(``attach``), "the request may have left" (``submit``), the outcome (``record``), or the
withdrawal of an intent the gateway refused outright (``withdraw``). :class:`StepStore` commits
each at once (one payment, as :mod:`payflows.payments` makes it); :class:`GroupedStore` gathers
the writes of hundreds of items in flight into shared commits (the billing run, the hold sweep),
with each pipeline's own effect (a subscription's next date, a hold's audit row) in the same
commit as the outcome. Both obey the attempt state table: the step adapter through
:mod:`payflows.ledger.attempts`, the grouped one through :mod:`payflows.ledger.grouped`.
Every call returns once its write is durable: only then may the next gateway call go out.
The grouped adapter runs its commits on one connection kept while writes keep coming (no
session, no pool round trip per commit); a connection that failed a commit is never reused.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from payflows.ledger import (
    AttemptKind,
    Outcome,
    PurchaseConflict,
    UnitOfWork,
    attach_purchase,
    mark_submitted,
    record_intent,
    record_outcomes,
    withdraw_intent,
)
from payflows.ledger.db import Transaction
from payflows.ledger.grouped import (
    attach_and_submit,
    insert_submitted,
    record_outcomes_grouped,
    submit_grouped,
    withdraw_grouped,
)
from payflows.pacing import commit_for

__all__ = ["ITEM_ERRORS", "GroupedStore", "StepStore"]


class StepStore:
    """The store as one committed unit of work per step (single payments)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _run(self, fn: Callable[[UnitOfWork], Any]) -> Any:
        def run() -> Any:
            with UnitOfWork(self.engine) as uow:
                result = fn(uow)
                uow.commit()
                return result

        return await asyncio.to_thread(run)

    async def attach(self, key: str, purchase_id: str) -> Any:
        return await self._run(lambda uow: attach_purchase(uow, key, purchase_id))

    async def submit(self, key: str, *, resend: bool = False) -> Any:
        return await self._run(lambda uow: mark_submitted(uow, key, resend=resend))

    async def intend_submitted(
        self, key: str, kind: AttemptKind, amount: int, currency: str, purchase_id: str
    ) -> Any:
        def write(uow: UnitOfWork) -> Any:
            record_intent(uow, key, kind, amount, currency, related_purchase_id=purchase_id)
            mark_submitted(uow, key)

        return await self._run(write)

    async def record(self, outcome: Outcome) -> Any:
        return (await self._run(lambda uow: record_outcomes(uow, [outcome])))[0]

    async def withdraw(self, key: str) -> bool:
        return bool(await self._run(lambda uow: withdraw_intent(uow, key)))


@dataclass
class _Batch:
    attach: dict[str, str] = field(default_factory=dict)
    submit: list[str] = field(default_factory=list)
    resend: list[str] = field(default_factory=list)
    intents: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    withdraw: list[str] = field(default_factory=list)
    extras: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class _Write:
    """One item's write: what it adds to a commit, and the future the item waits on."""

    future: asyncio.Future[None]
    kind: str  # a list of _Batch ("submit", ...), "attach", "record" or "withdraw"
    value: Any = None
    extra: Any = None

    def add_to(self, batch: _Batch) -> None:
        if self.kind == "attach":
            key, purchase_id = self.value
            batch.attach[key] = purchase_id
        elif self.kind == "record":
            if self.value is not None:
                batch.outcomes.append(self.value)
        else:
            getattr(batch, self.kind).append(self.value)
        if self.extra is not None:
            batch.extras.append(self.extra)


#: Errors that name one item's data, not the database: a purchase id already attached to
#: another attempt, a constraint refusing one row. A shared commit that fails with one of these
#: is rolled back and its items are committed again one by one, so that only the item at fault
#: fails. Any other error (the database unreachable, locked or full, a bug) fails every item of
#: the commit: committing them one by one would only hammer a database that is down, and each
#: item is read back by the next run anyway.
ITEM_ERRORS: tuple[type[Exception], ...] = (PurchaseConflict, IntegrityError)


@dataclass(frozen=True, slots=True)
class _Open:
    """A grouped commit's transaction on the store's kept connection (a :class:`Transaction`)."""

    conn: Connection
    dialect: str

    def connection(self) -> Connection:
        return self.conn


class GroupedStore:
    """The store as shared commits: whatever is written while one commit runs joins the next.

    The number of commits adapts to the load: one per write when idle, one per hundreds under
    full concurrency. ``effects(uow, extras)`` is the pipeline's own part of each commit (the
    ``extra`` objects passed to :meth:`record` and :meth:`add`), run after the attempt writes.
    Every item learns how its own write went: a commit that fails with one of
    :data:`ITEM_ERRORS` is retried item by item, any other failure fails all of its items.
    """

    def __init__(
        self,
        engine: Engine,
        effects: Callable[[Transaction, Sequence[Any]], None] | None = None,
        *,
        gather_seconds: float = 0.0,
    ) -> None:
        self.engine = engine
        self._effects = effects
        #: How long a commit waits for more writes to join it: fewer, larger commits.
        self.gather_seconds = gather_seconds
        self._writes: list[_Write] = []
        self._task: asyncio.Task[None] | None = None
        # One connection while writes keep coming (see _commit); the lock keeps it to one
        # commit at a time, even when a cancelled drain's commit is still running in its thread.
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._close_after = False

    def attach(self, key: str, purchase_id: str) -> Awaitable[None]:
        """Store the purchase id and mark the attempt submitted, in one commit."""
        return self._add("attach", (key, purchase_id))

    def submit(self, key: str, *, resend: bool = False) -> Awaitable[None]:
        return self._add("resend" if resend else "submit", key)

    def intend_submitted(
        self,
        key: str,
        kind: AttemptKind,
        amount: int,
        currency: str,
        purchase_id: str,
        *,
        resend: bool = False,
    ) -> Awaitable[None]:
        """An attempt on an existing purchase, durable as ``submitted`` before it is sent."""
        intent = {
            "k": key,
            "kind": kind,
            "amount": amount,
            "currency": currency,
            "pid": purchase_id,
            "resend": resend,
        }
        return self._add("intents", intent)

    def record(self, outcome: Outcome | None, extra: Any = None) -> Awaitable[None]:
        return self._add("record", outcome, extra)

    def withdraw(self, key: str, extra: Any = None) -> Awaitable[None]:
        return self._add("withdraw", key, extra)

    def add(self, extra: Any) -> Awaitable[None]:
        return self._add("record", None, extra)

    def _add(self, kind: str, value: Any, extra: Any = None) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.append(_Write(future, kind, value, extra))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self._writes:
                await asyncio.sleep(self.gather_seconds)  # let more items add their writes
                writes, self._writes = self._writes, []
                await commit_for(partial(self._commit_each, writes), [w.future for w in writes])
        finally:
            # No write is waiting (or the drain was cancelled): give the connection back. A
            # write added from now on starts a new drain, which opens a new one.
            self._release()

    def _release(self) -> None:
        """Close the kept connection: now, or as soon as the commit still running (that of a
        cancelled drain, in its thread) is done with it."""
        self._close_after = True  # before trying the lock: that commit looks after releasing it
        self._close_if_asked()

    def _close_if_asked(self) -> None:
        if self._close_after and self._lock.acquire(blocking=False):
            try:
                if self._close_after:
                    self._discard()
            finally:
                self._lock.release()

    def _discard(self) -> None:
        conn, self._conn, self._close_after = self._conn, None, False
        if conn is not None:
            conn.close()  # back to the pool (rolled back), or dropped if it was invalidated

    def _commit_each(self, writes: list[_Write]) -> list[Exception | None]:
        """Commit ``writes`` together; on an item error, each alone. One error per write."""
        try:
            with self._lock:
                return self._commit_or_each(writes)
        finally:
            self._close_if_asked()

    def _commit_or_each(self, writes: list[_Write]) -> list[Exception | None]:
        try:
            self._commit(writes)
            return [None] * len(writes)
        except ITEM_ERRORS:
            if len(writes) == 1:
                raise
        errors: list[Exception | None] = []
        for i, write in enumerate(writes):
            try:
                self._commit([write])
                errors.append(None)
            except ITEM_ERRORS as exc:
                errors.append(exc)
            except Exception as exc:  # the database itself: this item and the rest fail
                return errors + [exc] * (len(writes) - i)
        return errors

    def _connection(self) -> Connection:
        """The kept connection, checked out of the pool when the first write of a burst comes.

        Kept while writes keep coming (under load, the whole run: no pool round trip, no
        session per commit) and given back when none is waiting. On a backend whose pool pings
        each check-out (PostgreSQL), it is pinged before each commit as the pool would, and a
        dead one replaced; one that failed a commit is never reused (:meth:`_commit`).
        """
        conn = self._conn
        if conn is not None and (conn.invalidated or conn.closed):
            self._discard()
            conn = None
        if conn is not None and getattr(self.engine.pool, "_pre_ping", True):
            dbapi_conn = conn.connection.dbapi_connection
            try:
                alive = dbapi_conn is not None and conn.dialect.do_ping(dbapi_conn)
            except conn.dialect.loaded_dbapi.Error:
                alive = False
            if not alive:
                conn.invalidate()
                self._discard()
                conn = None
        if conn is None:
            conn = self._conn = self.engine.connect()
        return conn

    def _commit(self, writes: Sequence[_Write]) -> None:
        batch = _Batch()
        for write in writes:
            write.add_to(batch)
        conn = self._connection()
        try:
            # BEGIN (IMMEDIATE on SQLite, through the engine's begin event) ... COMMIT; any
            # error rolls the whole commit back.
            with conn.begin():
                tx = _Open(conn, conn.dialect.name)
                insert_submitted(tx, batch.intents)
                if batch.attach or batch.submit:
                    attach_and_submit(tx, batch.attach, batch.submit)
                if batch.resend:
                    submit_grouped(tx, [], resend=batch.resend)
                withdraw_grouped(tx, batch.withdraw)
                if batch.outcomes:
                    record_outcomes_grouped(tx, batch.outcomes)
                if batch.extras and self._effects is not None:
                    self._effects(tx, batch.extras)
        except BaseException:
            # Whatever failed (a row, the database, the connection itself), the next commit
            # starts on a fresh connection: a broken one is never reused.
            self._discard()
            raise
