"""Benchmark the billing run against a sandbox in another process, with 50 ms latency per call.

    .venv/bin/python bench/billing.py            # 1,000 due subscriptions
    .venv/bin/python bench/billing.py 10000 --concurrency 64

Prints charges per second of :func:`payflows.billing.bill_due`, its peak memory, and the ratio
against a bare asyncio + httpx loop doing the same two calls per item (create purchase, charge)
at the same concurrency against the same sandbox, tuned as PERFORMANCE-NOTES.md says (several
AsyncClients of 8 connections each): that loop is the practical limit. Not a test: run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import delete, insert, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _sandbox import add_latency, free_port, start_sandbox

from payflows.billing import bill_due
from payflows.domain.cards import CardData
from payflows.gateway import CardFlags, PreciumClient, Product, PurchaseRequest
from payflows.ledger import (
    AttemptKind,
    IntervalUnit,
    PaymentAttempt,
    PaymentMethod,
    Subscription,
    SubscriptionStatus,
    UnitOfWork,
    make_engine,
)
from payflows.ledger.migrate import upgrade
from payflows.payments import PaymentContext, authorize_card, ensure_customer
from payflows.settings import (
    SANDBOX_API_KEY,
    SANDBOX_BRAND_ID,
    SANDBOX_S2S_API_KEY,
)

AS_OF = datetime(2026, 1, 31, 7, 0, tzinfo=UTC)
CUSTOMERS = 20


def reset(uow: UnitOfWork) -> None:
    """Make every subscription due again (bench only: forgets the charges just made)."""
    uow.session.execute(delete(PaymentAttempt).where(PaymentAttempt.kind == AttemptKind.MIT))
    uow.session.execute(
        update(Subscription).values(next_billing_at=AS_OF - timedelta(hours=1), claimed_by=None)
    )


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far: the sandbox's share of a run."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def setup(ctx: PaymentContext, n: int) -> list[tuple[str, str]]:
    """``CUSTOMERS`` stored cards (zero-auth) and ``n`` due subscriptions spread over them."""
    methods: list[tuple[int, int, str, str]] = []
    for i in range(CUSTOMERS):
        customer = await ensure_customer(ctx, f"bench-{i}", email=f"bench{i}@example.com")
        outcome = await authorize_card(
            ctx,
            f"zero:bench-{i}",
            customer,
            CardData("4111111111111111", "12/35", "123", "Bench"),
            amount_cents=0,
            currency="ZAR",
            product="Card validation",
            force_recurring=True,
        )
        assert outcome.succeeded and outcome.recurring_token
        token = outcome.recurring_token

        def method_id(uow: UnitOfWork, token: str = token) -> int:
            from sqlmodel import select

            return (
                uow.session.exec(
                    select(PaymentMethod).where(PaymentMethod.recurring_token == token)
                )
                .one()
                .id
            )

        methods.append(
            (customer.id, await ctx.ledger(method_id), customer.precium_client_id, token)
        )
    now = datetime.now(UTC)
    with UnitOfWork(ctx.engine) as uow:
        for start in range(0, n, 5000):
            rows = []
            for i in range(start, min(n, start + 5000)):
                cust, method, _, _ = methods[i % CUSTOMERS]
                rows.append(
                    {
                        "external_id": f"bench-sub-{i}",
                        "customer_id": cust,
                        "payment_method_id": method,
                        "plan": "basic",
                        "amount_cents": 9900,
                        "currency": "ZAR",
                        "interval_unit": IntervalUnit.MONTH,
                        "interval_count": 1,
                        "next_billing_at": AS_OF - timedelta(hours=1),
                        "status": SubscriptionStatus.ACTIVE,
                        "failed_attempts": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            uow.session.execute(insert(Subscription), rows)
        uow.commit()
    return [(client, token) for _, _, client, token in methods]


async def run_billing(
    ctx: PaymentContext, concurrency: int, batch_size: int, sandbox_pid: int
) -> tuple[float, float]:
    gc.collect()
    before = high = rss_mb()

    last = 0.0

    def sample(_summary: object) -> None:
        nonlocal high, last
        if time.monotonic() - last > 0.25:  # reading /proc costs CPU: a few times a second
            last = time.monotonic()
            high = max(high, rss_mb())

    started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    sandbox_cpu = cpu_of(sandbox_pid)
    summary = await bill_due(
        ctx,
        as_of=AS_OF,
        worker_id="bench",
        concurrency=concurrency,
        batch_size=batch_size,
        on_progress=sample,
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"  billing: {summary.succeeded} paid, {summary.declined} declined, "
        f"{summary.unknown} unknown in {elapsed:.2f}s "
        f"(CPU {cpu:.2f}s, "
        f"of which event loop {time.thread_time() - loop_cpu:.2f}s; "
        f"sandbox CPU {cpu_of(sandbox_pid) - sandbox_cpu:.2f}s); "
        f"RSS {before:.0f} MB at the start, at most {high:.0f} MB during the run"
    )
    return elapsed, cpu


async def run_bare_loop(
    base: str, n: int, concurrency: int, cards: list[tuple[str, str]], sandbox_pid: int
) -> tuple[float, float]:
    """The practical limit: the same two calls per item, nothing else."""
    headers = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    pools = max(1, concurrency // 8)
    clients = [
        httpx.AsyncClient(
            base_url=base,
            headers=headers,
            timeout=30,
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
        )
        for _ in range(pools)
    ]
    rotation = itertools.cycle(clients)
    bodies = []
    for client_id, token in cards:
        request = PurchaseRequest(
            client_id=client_id,
            currency="ZAR",
            products=[Product(name="Subscription basic", price=9900)],
            card=CardFlags(is_recurring=True),
            brand_id=SANDBOX_BRAND_ID,
        )
        bodies.append((request.to_body(), token))
    sem = asyncio.Semaphore(concurrency)
    paid = 0
    # Absolute URLs, one parse per call: cheaper than base_url's merge of a relative path,
    # and the way payflows' client builds its URLs (HttpGateway._url) since 2026-12-03.

    async def one(i: int) -> None:
        nonlocal paid
        body, token = bodies[i % len(bodies)]
        async with sem:
            created = await next(rotation).post(
                httpx.URL(f"{base}purchases/"), json={**body, "reference": f"bare:{i}"}
            )
            created.raise_for_status()
        async with sem:
            charged = await next(rotation).post(
                httpx.URL(f"{base}purchases/{created.json()['id']}/charge/"),
                json={"recurring_token": token},
            )
            paid += charged.status_code == 200

    started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    sandbox_cpu = cpu_of(sandbox_pid)
    # Items are started in windows so the loop itself keeps memory flat, like the product.
    window = 4 * concurrency
    pending: set[asyncio.Task[None]] = set()
    for i in range(n):
        pending.add(asyncio.create_task(one(i)))
        if len(pending) >= window:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.gather(*pending)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        await client.aclose()
    print(
        f"  bare loop: {paid} paid in {elapsed:.2f}s (CPU {cpu:.2f}s, "
        f"of which event loop {time.thread_time() - loop_cpu:.2f}s; "
        f"sandbox CPU {cpu_of(sandbox_pid) - sandbox_cpu:.2f}s)"
    )
    return elapsed, cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--database", help="ledger URL (default: a temporary SQLite file)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate billing and bare loop; best of each"
    )
    args = parser.parse_args()

    port = free_port()
    sandbox = start_sandbox(port)
    base = f"http://127.0.0.1:{port}/api/v1/"
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/ledger.db"
        upgrade(url)
        engine = make_engine(url)
        gateway = PreciumClient(
            base,
            SANDBOX_API_KEY,
            SANDBOX_S2S_API_KEY,
            SANDBOX_BRAND_ID,
            max_connections=args.concurrency,
        )
        ctx = PaymentContext(gateway=gateway, engine=engine, now=lambda: AS_OF)
        try:
            cards = await setup(ctx, args.n)
            add_latency(port, args.latency_ms)
            gc.collect()
            before = rss_mb()
            print(
                f"{args.n} due subscriptions, concurrency {args.concurrency}, "
                f"{args.latency_ms} ms latency per call, sandbox pid {sandbox.pid}"
            )
            billings, bares = [], []
            for round_ in range(args.repeat):
                if round_:
                    await ctx.ledger(reset)
                billings.append(
                    await run_billing(ctx, args.concurrency, args.batch_size, sandbox.pid)
                )
                if not args.skip_baseline:
                    bares.append(
                        await run_bare_loop(base, args.n, args.concurrency, cards, sandbox.pid)
                    )
            billing, billing_cpu = min(w for w, _ in billings), min(c for _, c in billings)
            peak = peak_mb()
            limit = 2 * args.n * args.latency_ms / 1000 / args.concurrency
            print(f"  charges/s: {args.n / billing:.0f} (latency bound {limit:.2f}s)")
            print(f"  memory: RSS {before:.0f} MB before the run, peak {peak:.0f} MB")
            if bares:
                bare, bare_cpu = min(w for w, _ in bares), min(c for _, c in bares)
                print(f"  bare loop charges/s: {args.n / bare:.0f}")
                print(
                    f"ratio billing / bare loop (best of {args.repeat}): "
                    f"wall {billing / bare:.2f}x, CPU {billing_cpu / bare_cpu:.2f}x"
                )
        finally:
            await gateway.aclose()
            engine.dispose()
            sandbox.terminate()
            sandbox.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
