"""Benchmark the pre-authorisation sweep: 100k holds in the ledger, a sandbox in another process.

    .venv/bin/python bench/sweep.py                       # 100,000 holds, 1,000 of them due
    .venv/bin/python bench/sweep.py 100000 --due 5000 --concurrency 64 --repeat 2
    .venv/bin/python bench/sweep.py 20000 --due 1000 --setup-faults 0.05 --profile /tmp/prof

1. **Select and decide.** The ledger holds N holds; ``--due`` of them are real sandbox holds,
   decided (capture in full, in part, void) or undecided past their act-by time; the rest are
   months from their deadline. Times :func:`payflows.sweep.count_due` and one pass of the
   sweep's own selection (claim in batches, keyset order) plus its decision table over the due
   holds, with no gateway call.
2. **Act.** Runs :func:`payflows.sweep.sweep_holds` on the due holds (read back, capture or void
   exactly once, record) with ``--latency-ms`` on every sandbox route, then a bare asyncio +
   httpx loop doing the same two calls per hold (GET purchase, POST capture or release) on as
   many other holds at the same concurrency (clients of 8 connections, PERFORMANCE-NOTES.md):
   that loop is the practical limit. Prints holds per second of both and, last, the ratio
   of wall and of CPU seconds. ``--repeat R`` alternates R rounds on fresh holds (each
   round's holds are decided, so made due, just before it) and compares the best of each.

Setup (:mod:`_sweep_setup`) makes the real holds 64 at a time and settles a lost answer by
reading back, never by a blind resend; ``--setup-faults RATE`` makes the sandbox lose, drop
and 503 that share of setup's answers to show it. ``--profile DIR`` samples each phase with
py-spy (:mod:`_profile`) and prints where its time went, by thread and library.

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
from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _profile import Profiler
from _sandbox import free_port, start_sandbox
from _sweep_setup import Setup, decide_mix, filler, setup_fault_rules

from payflows.domain.holds import DEFAULT_WINDOWS
from payflows.gateway import PreciumClient
from payflows.ledger import Hold, UnitOfWork, make_engine
from payflows.ledger.migrate import upgrade
from payflows.ledger.models import HoldPolicy
from payflows.payments import PaymentContext
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY
from payflows.sweep import count_due, plan_for, sweep_holds
from payflows.sweep.claims import claim
from payflows.sweep.items import Run
from payflows.sweep.summary import SweepSummary


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


async def bare_loop(base: str, pids: list[str], concurrency: int) -> tuple[float, float]:
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
            try:
                (await next(rotation).get(f"purchases/{pid}/")).raise_for_status()
                if i % 6 == 3:
                    answer = await next(rotation).post(f"purchases/{pid}/release/")
                else:
                    body = {"amount": 4000} if i % 6 == 2 else {}
                    answer = await next(rotation).post(f"purchases/{pid}/capture/", json=body)
            except httpx.HTTPError:  # a lost answer or an error status: counted, not fatal
                return
            ok += answer.status_code == 200

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i, pid) for i, pid in enumerate(pids)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        await client.aclose()
    failed = len(pids) - ok
    print(f"  bare loop: {ok} acted, {failed} failed in {elapsed:.2f}s (CPU {cpu:.2f}s)")
    return elapsed, cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="alternate R rounds, best of each")
    parser.add_argument(
        "--setup-faults",
        type=float,
        default=0.0,
        metavar="RATE",
        help="lose, drop and 503 this share of setup's gateway answers (setup reads them back)",
    )
    parser.add_argument("--profile", metavar="DIR", help="py-spy samples of each phase, in DIR")
    parser.add_argument("--database", help="ledger URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    port = free_port()
    sandbox = start_sandbox(port)
    base = f"http://127.0.0.1:{port}/api/v1/"
    control = f"http://127.0.0.1:{port}/_sandbox/"
    auth = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    profiler = Profiler(args.profile)
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
        setup = Setup(ctx, control, SANDBOX_API_KEY)
        try:
            t = time.perf_counter()
            if args.setup_faults:
                rules = setup_fault_rules(args.setup_faults)
                httpx.put(
                    f"{control}faults/", json={"rules": rules}, headers=auth
                ).raise_for_status()
            rounds = [
                (await setup.holds(args.due, f"sweep{r}"), await setup.holds(args.due, f"bare{r}"))
                for r in range(args.repeat)
            ]
            httpx.delete(f"{control}faults/", headers=auth).raise_for_status()
            filler(engine, args.n - 2 * args.due * args.repeat)
            setup_s = time.perf_counter() - t
            print(
                f"{args.n} holds in the ledger ({args.due} due per round, {args.repeat} round(s)), "
                f"setup {setup_s:.1f}s ({setup.read_back} lost answers read back, "
                f"{setup.resent} requests sent again); "
                f"concurrency {args.concurrency}, {args.latency_ms} ms latency per call"
            )
            rules = [
                {"route": route, "kind": "latency", "ms": args.latency_ms}
                for route in (
                    "GET /api/v1/purchases/*/",
                    "POST /api/v1/purchases/*/capture/",
                    "POST /api/v1/purchases/*/release/",
                )
            ]
            sweeps: list[tuple[float, float]] = []
            bares: list[tuple[float, float]] = []
            for r, (swept, bare) in enumerate(rounds):
                decide_mix(engine, swept)
                as_of = datetime.now(UTC)
                if r == 0:
                    due, counted, selected = select_and_decide(engine, as_of, args.batch_size)
                    print(
                        f"  select + decide: count_due {counted * 1000:.0f} ms, "
                        f"claim + plan {due} due holds {selected * 1000:.0f} ms"
                    )
                httpx.put(
                    f"{control}faults/", json={"rules": rules}, headers=auth
                ).raise_for_status()
                with profiler.phase(f"sweep{r}"):
                    started, cpu = time.perf_counter(), time.process_time()
                    loop_cpu = time.thread_time()
                    summary = await sweep_holds(
                        ctx,
                        as_of=as_of,
                        worker_id=f"bench{r}",
                        concurrency=args.concurrency,
                        batch_size=args.batch_size,
                    )
                    sweeps.append((time.perf_counter() - started, time.process_time() - cpu))
                    loop_cpu = time.thread_time() - loop_cpu
                assert summary.acted == args.due and summary.complete, summary
                print(
                    f"  sweep: {summary.captured} captured, {summary.partially_captured} partial, "
                    f"{summary.voided} voided, {summary.unknown} unknown, {summary.failed} failed "
                    f"in {sweeps[-1][0]:.2f}s (CPU {sweeps[-1][1]:.2f}s, of which event loop "
                    f"{loop_cpu:.2f}s: the rest is the ledger's worker threads)"
                )
                with profiler.phase(f"bare{r}"):
                    bares.append(await bare_loop(base, bare, args.concurrency))
            profiler.print()
            sweep_s, sweep_cpu = min(w for w, _ in sweeps), min(c for _, c in sweeps)
            bare_s, bare_cpu = min(w for w, _ in bares), min(c for _, c in bares)
            bound = 2 * args.due * args.latency_ms / 1000 / args.concurrency
            print(f"  holds/s: sweep {args.due / sweep_s:.0f}, bare loop {args.due / bare_s:.0f}")
            print(f"  latency bound {bound:.2f}s; best of {args.repeat} round(s) each")
            print(
                f"ratio sweep / bare loop: wall {sweep_s / bare_s:.2f}x, "
                f"CPU {sweep_cpu / bare_cpu:.2f}x"
            )
        finally:
            await setup.aclose()
            await gateway.aclose()
            engine.dispose()
            sandbox.terminate()
            sandbox.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
