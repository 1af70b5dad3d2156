"""GroupedStore: one item's bad write fails that item only; a database failure fails them all;
its connection is kept while writes come, never after a failure, and given back at the end."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from payflows.exactly_once import GroupedStore
from payflows.ledger import (
    AttemptKind,
    AttemptState,
    UnitOfWork,
    attach_purchase,
    get_attempt,
    record_intent,
)


def _intents(engine: Engine, keys: list[str]) -> None:
    with UnitOfWork(engine) as uow:
        for key in keys:
            record_intent(uow, key, AttemptKind.MIT, 500, "ZAR")
        uow.commit()


def _attempt(engine: Engine, key: str):
    with UnitOfWork(engine) as uow:
        return get_attempt(uow, business_key=key)


def test_a_write_the_ledger_refuses_fails_its_own_item_only(engine: Engine):
    _intents(engine, ["held", "a", "b", "c"])
    with UnitOfWork(engine) as uow:
        attach_purchase(uow, "held", "p-taken")
        uow.commit()
    committed: list[int] = []

    def effects(uow, extras):
        committed.append(len(extras))

    async def run() -> list[BaseException | None]:
        store = GroupedStore(engine, effects)
        writes = [
            store.attach("a", "p-a"),
            store.attach("b", "p-taken"),  # another attempt's purchase: the ledger refuses it
            store.record(None, "effect of c"),
            store.attach("c", "p-c"),
        ]
        return await asyncio.gather(*writes, return_exceptions=True)

    a, b, effect, c = asyncio.run(run())
    assert a is None and effect is None and c is None
    assert isinstance(b, IntegrityError)
    # the shared try failed at the attach (before any effect); then each item alone
    assert committed == [1]
    assert _attempt(engine, "a").purchase_id == "p-a"
    assert _attempt(engine, "a").state is AttemptState.SUBMITTED
    assert _attempt(engine, "c").purchase_id == "p-c"
    assert _attempt(engine, "b").purchase_id is None  # never charged: no purchase of its own
    assert _attempt(engine, "b").state is AttemptState.INTENT


def test_a_database_failure_fails_every_item_of_the_commit_and_writes_nothing(engine: Engine):
    _intents(engine, ["a", "b"])
    calls: list[int] = []

    def effects(uow, extras):
        calls.append(len(extras))
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    async def run() -> list[BaseException | None]:
        store = GroupedStore(engine, effects)
        writes = [store.attach("a", "p-a"), store.record(None, "x"), store.attach("b", "p-b")]
        return await asyncio.gather(*writes, return_exceptions=True)

    results = asyncio.run(run())
    assert all(isinstance(r, OperationalError) for r in results), results
    assert calls == [1]  # not retried item by item
    assert _attempt(engine, "a").purchase_id is None
    assert _attempt(engine, "b").purchase_id is None


@pytest.mark.parametrize("gather", [0.0, 0.003])
def test_writes_that_join_one_commit_are_each_durable_when_awaited(engine: Engine, gather):
    keys = [f"k{i}" for i in range(50)]
    _intents(engine, keys)

    async def run() -> None:
        store = GroupedStore(engine, gather_seconds=gather)
        await asyncio.gather(*(store.attach(k, f"p-{k}") for k in keys))

    asyncio.run(run())
    assert all(_attempt(engine, k).purchase_id == f"p-{k}" for k in keys)


def test_one_connection_while_writes_come_a_failed_one_replaced_and_given_back(engine: Engine):
    seen: list[tuple[object, list[str]]] = []
    running = {name: threading.Event() for name in ("one", "two")}
    go = {name: threading.Event() for name in ("one", "two")}

    def effects(tx, extras):
        seen.append((tx.connection(), list(extras)))
        for name in extras:
            if name in running:  # hold this commit until the next write has joined the queue
                running[name].set()
                assert go[name].wait(10)
        if "two" in extras:
            raise OperationalError("UPDATE", {}, Exception("database is locked"))

    async def run() -> list[BaseException | None]:
        store = GroupedStore(engine, effects)
        one = store.add("one")
        assert await asyncio.to_thread(running["one"].wait, 10)
        two = store.add("two")  # waits for the next commit of the same drain
        go["one"].set()
        assert await asyncio.to_thread(running["two"].wait, 10)
        three = store.add("three")
        go["two"].set()
        results = await asyncio.gather(one, two, three, return_exceptions=True)
        await asyncio.sleep(0.05)
        return results

    one, two, three = asyncio.run(run())
    assert one is None and three is None and isinstance(two, OperationalError)
    assert [extras for _, extras in seen] == [["one"], ["two"], ["three"]]
    (first, _), (second, _), (third, _) = seen
    assert second is first  # kept between the commits of one burst
    assert third is not second  # the connection of a failed commit is never used again
    assert engine.pool.checkedout() == 0  # given back when no write was left waiting
