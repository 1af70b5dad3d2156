"""Benchmark the pre-authorisation sweep: 100k holds in the ledger, a sandbox in another process.

    .venv/bin/python bench/sweep.py                       # 100,000 holds, 1,000 of them due
    .venv/bin/python bench/sweep.py 100000 --due 2000 --concurrency 32 --latency-ms 50

1. **Select and decide.** The ledger holds N holds; ``--due`` of them are real sandbox holds,
   decided (capture in full, in part, void) or undecided past their act-by time; the rest are
   months from their deadline. Times :func:`payflows.sweep.count_due` and one pass of the
   sweep's own selection (claim in batches, keyset order) plus its decision table over the due
   holds, with no gateway call.
2. **Act.** Runs :func:`payflows.sweep.sweep_holds` on the due holds (read back, capture or void
   exactly once, record) with ``--latency-ms`` on every sandbox route, then a bare asyncio +
   httpx loop doing the same two calls per hold (GET purchase, POST capture or release) on as
   many other holds at the same concurrency (clients of 8 connections, PERFORMANCE-NOTES.md):
   that loop is the practical limit. Prints holds per second of both and the ratio.

Not a test: run by hand, figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _sandbox import free_port, start_sandbox

from payflows.domain.cards import BrowserFingerprint, CardData
from payflows.domain.holds import DEFAULT_WINDOWS
from payflows.domain.states import Status
from payflows.gateway import PreciumClient, Product, PurchaseRequest
from payflows.ledger import Hold, HoldDecision, UnitOfWork, make_engine
from payflows.ledger.migrate import upgrade
from payflows.ledger.models import HoldPolicy
from payflows.payments import PaymentContext, ensure_customer
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY
from payflows.sweep import count_due, plan_for, sweep_holds
from payflows.sweep.claims import claim
from payflows.sweep.items import Run
from payflows.sweep.summary import SweepSummary

CARDS = ("4111111111111111", "5100000000000008", "6767700000000005")


BRANDS = ("visa", "mastercard", "maestro")


async def real_holds(ctx: PaymentContext, n: int, tag: str, concurrency: int = 64) -> list[str]:
    """``n`` real holds in the sandbox, recorded in the ledger as the payments path would.

    The gateway part is the real one (a purchase with ``skip_capture`` and the card sent S2S,
    frictionless: the sandbox answers ``hold``); the ledger part is one bulk insert of the
    ``holds`` rows (amount, brand, network deadline from the same windows table) instead of
    ``authorize_card``'s intent, attempt and three commits per hold, which made the setup of
    10k holds take 430 s. The sweep reads nothing else of a hold.
    """
    customer = await ensure_customer(ctx, f"bench-{tag}", email=f"bench-{tag}@example.com")
    sem = asyncio.Semaphore(concurrency)
    gateway = ctx.gateway

    async def one(i: int) -> tuple[str, str, datetime]:
        async with sem:
            purchase = await gateway.create_purchase(
                PurchaseRequest(
                    client_id=customer.precium_client_id,
                    currency="ZAR",
                    products=[Product(name="Room", price=10_000)],
                    skip_capture=True,
                    reference=f"preauth:bench-{tag}-{i}",
                    success_redirect=ctx.success_redirect,
                    failure_redirect=ctx.failure_redirect,
                )
            )
            assert purchase.direct_post_url, purchase
            answer = await gateway.submit_card(
                purchase.direct_post_url,
                CardData(CARDS[i % 3], "12/35", "123", "Bench"),
                remote_ip="127.0.0.1",
                browser=BrowserFingerprint(),
            )
            assert answer.purchase_status is Status.HOLD, answer
            return purchase.id, BRANDS[i % 3], datetime.now(UTC)

    made = await asyncio.gather(*(one(i) for i in range(n)))
    now = datetime.now(UTC)
    with UnitOfWork(ctx.engine) as uow:
        uow.session.execute(
            insert(Hold),
            [
                {
                    "purchase_id": pid,
                    "customer_id": customer.id,
                    "authorised_cents": 10_000,
                    "captured_cents": 0,
                    "currency": "ZAR",
                    "brand": brand,
                    "is_mit": False,
                    "authorised_at": at,
                    "expires_at": DEFAULT_WINDOWS.deadline(at, brand, is_mit=False),
                    "decision": HoldDecision.NONE,
                    "status": Status.HOLD,
                    "status_at": at,
                    "created_at": now,
                    "updated_at": now,
                    "extended": False,
                }
                for pid, brand, at in made
            ],
        )
        uow.commit()
    return [pid for pid, _, _ in made]


def filler(engine, n: int) -> None:
    """Holds that are nowhere near due (they never reach the gateway in this bench)."""
    now = datetime.now(UTC)
    far = now + timedelta(days=200)
    with UnitOfWork(engine) as uow:
        for start in range(0, n, 5000):
            uow.session.execute(
                insert(Hold),
                [
                    {
                        "purchase_id": f"filler-{i:07d}",
                        "authorised_cents": 10_000,
                        "captured_cents": 0,
                        "currency": "ZAR",
                        "brand": "visa",
                        "is_mit": False,
                        "authorised_at": now,
                        "expires_at": far + timedelta(seconds=i),
                        "decision": HoldDecision.NONE,
                        "status": Status.HOLD,
                        "status_at": now,
                        "created_at": now,
                        "updated_at": now,
                        "extended": False,
                    }
                    for i in range(start, min(n, start + 5000))
                ],
            )
        uow.commit()


def decide_mix(engine, pids: list[str]) -> None:
    """A third captured in full, a sixth in part, a sixth voided, a third undecided (due)."""
    with UnitOfWork(engine) as uow:
        for i, pid in enumerate(pids):
            values: dict[str, object] = {}
            match i % 6:
                case 0 | 1:
                    values = {"decision": HoldDecision.CAPTURE, "decision_cents": 10_000}
                case 2:
                    values = {"decision": HoldDecision.CAPTURE, "decision_cents": 4_000}
                case 3:
                    values = {"decision": HoldDecision.VOID}
                case _:
                    # undecided, already at its act-by time
                    values = {"expires_at": datetime.now(UTC) + timedelta(hours=12)}
            uow.session.execute(update(Hold).where(Hold.purchase_id == pid).values(**values))
        uow.commit()


def select_and_decide(engine, as_of: datetime, batch_size: int) -> tuple[int, float, float]:
    """One pass of the sweep's selection and decision table, no gateway call."""
    started = time.perf_counter()
    due = count_due(engine, as_of, DEFAULT_WINDOWS)
    counted = time.perf_counter() - started
    run = Run(
        ctx=PaymentContext(gateway=None, engine=engine),  # type: ignore[arg-type]
        as_of=as_of,
        worker_id="bench-select",
        windows=DEFAULT_WINDOWS,
        default_policy=HoldPolicy.CAPTURE,
        lease=timedelta(seconds=60),
        reconcile_all=False,
        summary=SweepSummary(as_of=as_of, worker_id="bench-select"),
    )
    started = time.perf_counter()
    planned = 0
    while items := claim(run, batch_size):
        for item in items:
            plan_for(item, as_of, windows=DEFAULT_WINDOWS)
            planned += 1
    elapsed = time.perf_counter() - started
    with UnitOfWork(engine) as uow:  # give the claims back for the real run
        uow.session.execute(update(Hold).values(claimed_by=None, claimed_until=None))
        uow.commit()
    assert planned == due, (planned, due)
    return due, counted, elapsed


async def bare_loop(base: str, pids: list[str], concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    clients = [
        httpx.AsyncClient(
            base_url=base,
            headers=headers,
            timeout=30,
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
        )
        for _ in range(max(1, concurrency // 8))
    ]
    rotation = itertools.cycle(clients)
    sem = asyncio.Semaphore(concurrency)
    ok = 0

    async def one(i: int, pid: str) -> None:
        nonlocal ok
        async with sem:
            (await next(rotation).get(f"purchases/{pid}/")).raise_for_status()
            if i % 6 == 3:
                answer = await next(rotation).post(f"purchases/{pid}/release/")
            else:
                body = {"amount": 4000} if i % 6 == 2 else {}
                answer = await next(rotation).post(f"purchases/{pid}/capture/", json=body)
            ok += answer.status_code == 200

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i, pid) for i, pid in enumerate(pids)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        await client.aclose()
    print(f"  bare loop: {ok} acted in {elapsed:.2f}s (CPU {cpu:.2f}s)")
    return elapsed, cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--database", help="ledger URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    port = free_port()
    sandbox = start_sandbox(port)
    base = f"http://127.0.0.1:{port}/api/v1/"
    control = f"http://127.0.0.1:{port}/_sandbox/faults/"
    auth = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
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
        ctx = PaymentContext(gateway=gateway, engine=engine)
        try:
            t = time.perf_counter()
            swept = await real_holds(ctx, args.due, "sweep")
            bare = await real_holds(ctx, args.due, "bare")
            filler(engine, args.n - 2 * args.due)
            decide_mix(engine, swept)
            setup_s = time.perf_counter() - t
            print(
                f"{args.n} holds in the ledger ({args.due} due), setup {setup_s:.1f}s; "
                f"concurrency {args.concurrency}, {args.latency_ms} ms latency per call"
            )
            as_of = datetime.now(UTC)
            due, counted, selected = select_and_decide(engine, as_of, args.batch_size)
            print(
                f"  select + decide: count_due {counted * 1000:.0f} ms, "
                f"claim + plan {due} due holds {selected * 1000:.0f} ms"
            )
            rules = [
                {"route": route, "kind": "latency", "ms": args.latency_ms}
                for route in (
                    "GET /api/v1/purchases/*/",
                    "POST /api/v1/purchases/*/capture/",
                    "POST /api/v1/purchases/*/release/",
                )
            ]
            httpx.put(control, json={"rules": rules}, headers=auth).raise_for_status()
            started, cpu = time.perf_counter(), time.process_time()
            summary = await sweep_holds(
                ctx,
                as_of=as_of,
                worker_id="bench",
                concurrency=args.concurrency,
                batch_size=args.batch_size,
            )
            sweep_s, sweep_cpu = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"  sweep: {summary.captured} captured, {summary.partially_captured} partial, "
                f"{summary.voided} voided, {summary.unknown} unknown, {summary.failed} failed "
                f"in {sweep_s:.2f}s (CPU {sweep_cpu:.2f}s)"
            )
            bare_s, bare_cpu = await bare_loop(base, bare, args.concurrency)
            bound = 2 * args.due * args.latency_ms / 1000 / args.concurrency
            print(f"  holds/s: sweep {args.due / sweep_s:.0f}, bare loop {args.due / bare_s:.0f}")
            print(
                f"  latency bound {bound:.2f}s; ratio sweep / bare loop {sweep_s / bare_s:.2f}x "
                f"(CPU {sweep_cpu / bare_cpu:.2f}x)"
            )
        finally:
            await gateway.aclose()
            engine.dispose()
            sandbox.terminate()
            sandbox.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
