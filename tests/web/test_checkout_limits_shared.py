"""The checkout's failure limit is shared by every web process on one ledger, and survives a
restart: failures counted by one app instance refuse the client on another (SQLite, PostgreSQL).

Failures here are refused orders (a form with a valid CSRF pair but a forged order token): they
count against the client before any flow runs, so no Prefect server is needed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager

from apps.web import create_web_app
from apps.web.guard import LedgerFailureLimiter
from payflows.ledger import UnitOfWork, make_engine
from payflows.ledger.migrate import upgrade
from payflows.ledger.throttle import count_failures
from payflows.settings import Settings, load_settings
from tests.unit.ledger.conftest import PgSchemas, pg_available, pg_url
from tests.web.conftest import MERCHANT
from tests.web.support import CHECKOUT_SECRET, open_checkout, order_token

LIMIT = 3


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """One migrated ledger that two app instances share."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/shared.db"
        upgrade(url)
        yield url
        return
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    schemas = PgSchemas()
    name = schemas.create(f"_web_{uuid.uuid4().hex[:8]}")
    try:
        url = pg_url(name)
        upgrade(url)
        yield url
    finally:
        schemas.drop(name)


def settings_for(url: str, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return load_settings(
        PAYFLOWS_DATABASE_URL=url,
        PAYFLOWS_WEBHOOK_KEYS_FILE=str(tmp_path / "webhook-keys.json"),
        PAYFLOWS_PUBLIC_URL=MERCHANT,
        PAYFLOWS_CHECKOUT_SECRET=CHECKOUT_SECRET,
        PAYFLOWS_CHECKOUT_MAX_FAILURES=str(LIMIT),
        PAYFLOWS_CHECKOUT_FAILURE_WINDOW_SECONDS="900",
    )


@asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """One web process: its own app, engine and limiter, on the shared ledger."""
    app = create_web_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=("198.51.100.23", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
            yield client


async def forged_order(client: httpx.AsyncClient) -> httpx.Response:
    hidden = await open_checkout(client, order_token(f"web-{uuid.uuid4().hex[:10]}"))
    form = {**hidden, "order": hidden["order"][:-4] + "AAAA", "email": "ada@example.com"}
    return await client.post("/checkout", data=form)


async def test_failures_on_one_instance_refuse_the_client_on_another_and_after_a_restart(
    shared_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(shared_url, tmp_path)
    async with instance(settings) as first, instance(settings) as second:
        # Failures alternate between the two processes: together they reach the limit.
        for n in range(LIMIT):
            answer = await forged_order(first if n % 2 == 0 else second)
            assert answer.status_code == 400, answer.text
        for client in (first, second):
            refused = await forged_order(client)
            assert refused.status_code == 429
            assert "Too many payments from your connection failed" in refused.text
            assert 0 < int(refused.headers["retry-after"]) <= 901
    # A restarted process (a new app, a new engine) still refuses the client.
    async with instance(settings) as restarted:
        assert (await forged_order(restarted)).status_code == 429
    engine = make_engine(shared_url)
    try:
        with UnitOfWork(engine) as uow:
            # Refusals are not failures: only the three forged orders were counted.
            assert count_failures(uow, "198.51.100.23", _long_ago()) == LIMIT
    finally:
        engine.dispose()


def _long_ago():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)


async def test_the_limiter_waits_for_the_ledger_without_blocking_the_event_loop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A write lock held elsewhere: the loop keeps serving while the failure waits its turn."""
    url = f"sqlite:///{tmp_path}/locked.db"
    upgrade(url)
    engine = make_engine(url)
    other = sqlite3.connect(f"{tmp_path}/locked.db", isolation_level=None)
    try:
        limiter = LedgerFailureLimiter(engine, LIMIT, 900)
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        recording = asyncio.create_task(limiter.record_failure("203.0.113.9"))
        ticks = 0
        started = time.monotonic()
        while time.monotonic() - started < 0.5:
            await asyncio.sleep(0.01)
            ticks += 1
        assert not recording.done()  # still waiting for the lock...
        assert ticks >= 10  # ...while the loop went on
        other.execute("COMMIT")
        await asyncio.wait_for(recording, timeout=30)
        assert await limiter.blocked("203.0.113.9") == 0.0
        for _ in range(LIMIT - 1):
            await limiter.record_failure("203.0.113.9")
        assert 890 <= await limiter.blocked("203.0.113.9") <= 900
    finally:
        other.close()
        engine.dispose()


async def test_an_unreadable_ledger_closes_the_checkout_with_a_clear_page(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Fail closed: without the shared counts no card is read (503, never a traceback)."""
    url = f"sqlite:///{tmp_path}/gone.db"
    upgrade(url)
    settings = settings_for(url, tmp_path)
    async with instance(settings) as client:
        hidden = await open_checkout(client, order_token("web-gone-1"))
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE checkout_failures")
        finally:
            engine.dispose()
        answer = await client.post(
            "/checkout",
            data={**hidden, "email": "ada@example.com", "card_number": "4111111111111111"},
        )
    assert answer.status_code == 503
    assert "Payment unavailable" in answer.text and "Traceback" not in answer.text
