"""Billing throughput on 1, 2 and 4 worker processes sharing one sandbox and one PostgreSQL ledger.

    .venv/bin/python bench/scale.py                  # 3,000 due subscriptions, workers 1 2 4
    .venv/bin/python bench/scale.py 20000 --workers 1 2 4 8 --concurrency 64

What the ``sharded-billing`` deployment does, without Prefect in the way: W processes each run
:func:`payflows.billing.bill_due` under their own ``worker_id`` on the same ledger, claiming
due subscriptions in batches (``FOR UPDATE SKIP LOCKED``), against one sandbox in a process
of its own with a latency fault on every route. Nothing is split up front: a slow worker just
claims fewer batches. The processes start, connect and warm up first, then are released at
once; the clock runs from the release to the last one's end.

For each W it prints charges per second (wall) and charges per CPU-second of the billing
processes (their own ``process_time``, the sandbox's not counted), checks that every due
subscription was charged exactly once (one MIT attempt each, none twice), and makes them all
due again for the next W. The ledger is a schema of its own in the PostgreSQL at
127.0.0.1:5432 (trust, database ``test``), dropped at the end. The last line is the speed-up
of the largest W over one worker. Not a test: run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _sandbox import add_latency, free_port, start_sandbox
from billing import AS_OF, reset, setup

from payflows.gateway import PreciumClient
from payflows.ledger import AttemptKind, PaymentAttempt, UnitOfWork, make_engine
from payflows.ledger.migrate import upgrade
from payflows.payments import PaymentContext
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _context(base: str, url: str, concurrency: int) -> PaymentContext:
    gateway = PreciumClient(
        base,
        SANDBOX_API_KEY,
        SANDBOX_S2S_API_KEY,
        SANDBOX_BRAND_ID,
        max_connections=concurrency,
    )
    return PaymentContext(gateway=gateway, engine=make_engine(url), now=lambda: AS_OF)


async def _worker(base: str, url: str, worker_id: str, concurrency: int, batch: int) -> None:
    """One billing process: warm up, wait for ``go`` on stdin, bill, print a JSON line."""
    from payflows.billing import bill_due

    ctx = _context(base, url, concurrency)
    with UnitOfWork(ctx.engine) as uow:  # connect before the clock starts
        uow.session.execute(select(func.count()).select_from(PaymentAttempt)).scalar_one()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    started, cpu = time.time(), time.process_time()
    summary = await bill_due(
        ctx, as_of=AS_OF, worker_id=worker_id, concurrency=concurrency, batch_size=batch
    )
    ended, cpu = time.time(), time.process_time() - cpu
    await ctx.gateway.aclose()
    ctx.engine.dispose()
    print(
        json.dumps(
            {
                "worker": worker_id,
                "started": started,
                "ended": ended,
                "cpu": cpu,
                "claimed": summary.claimed,
                "succeeded": summary.succeeded,
                "declined": summary.declined,
                "unknown": summary.unknown,
            }
        ),
        flush=True,
    )


def run_round(base: str, url: str, workers: int, concurrency: int, batch: int) -> dict:
    """W billing processes released together; their reports and the round's wall time."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                base,
                url,
                f"w{workers}-{i}",
                str(concurrency),
                str(batch),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = []
    for p in procs:
        out, _ = p.communicate(timeout=3600)
        if p.returncode != 0:
            sys.exit(f"a billing worker failed (exit {p.returncode})")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    return {"reports": reports, "wall": wall, "cpu": sum(r["cpu"] for r in reports)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of another process so far (to see whether the sandbox is the limit)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_exactly_once(url: str, n: int) -> None:
    """Every due subscription charged once: n MIT attempts, n distinct business keys."""
    engine = make_engine(url)
    with UnitOfWork(engine) as uow:
        mit = PaymentAttempt.kind == AttemptKind.MIT
        total = uow.session.execute(select(func.count()).where(mit)).scalar_one()
        keys = uow.session.execute(
            select(func.count(func.distinct(PaymentAttempt.business_key))).where(mit)
        ).scalar_one()
    engine.dispose()
    if total != n or keys != n:
        sys.exit(f"exactly-once broken: {total} MIT attempts, {keys} keys for {n} due")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=3000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--concurrency", type=int, default=32, help="charges in flight per worker")
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1, help="rounds per W, best of")
    args = ap.parse_args()

    schema = f"bench_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_DSN, autocommit=True) as pg:
        pg.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    port = free_port()
    sandbox = start_sandbox(port)
    base = f"http://127.0.0.1:{port}/api/v1/"
    try:
        upgrade(url)
        ctx = _context(base, url, 8)
        await setup(ctx, args.n)
        await ctx.gateway.aclose()
        add_latency(port, args.latency_ms)
        print(
            f"{args.n:,} due subscriptions, {args.concurrency} in flight per worker, batches of "
            f"{args.batch_size}, {args.latency_ms} ms per call, PostgreSQL schema {schema}, "
            f"sandbox pid {sandbox.pid}, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.2f}"
        )
        results: dict[int, dict] = {}
        for workers in args.workers:
            for _ in range(args.repeat):
                await ctx.ledger(reset)
                sandbox_cpu = cpu_seconds(sandbox.pid)
                got = run_round(base, url, workers, args.concurrency, args.batch_size)
                sandbox_cpu = cpu_seconds(sandbox.pid) - sandbox_cpu
                check_exactly_once(url, args.n)
                shares = "/".join(str(r["claimed"]) for r in got["reports"])
                paid = sum(r["succeeded"] for r in got["reports"])
                print(
                    f"  {workers} worker(s): {got['wall']:.1f} s, {args.n / got['wall']:.0f} "
                    f"charges/s, CPU {got['cpu']:.1f} s = {args.n / got['cpu']:.0f} charges "
                    f"per CPU-second; sandbox CPU {sandbox_cpu:.1f} s; claimed {shares}, "
                    f"{paid} paid; load average {os.getloadavg()[0]:.2f}"
                )
                if workers not in results or got["wall"] < results[workers]["wall"]:
                    results[workers] = got
        ctx.engine.dispose()
        one, most = min(results), max(results)
        speedup = results[one]["wall"] / results[most]["wall"]
        per_cpu = args.n / results[most]["cpu"]
        print(
            f"scale {args.n:,} charges: {most} workers {args.n / results[most]['wall']:.0f}/s vs "
            f"{one} worker {args.n / results[one]['wall']:.0f}/s = {speedup:.2f}x "
            f"({per_cpu:.0f} charges per CPU-second at {most}, "
            f"{args.n / results[one]['cpu']:.0f} at {one})"
        )
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        with psycopg.connect(PG_DSN, autocommit=True) as pg:
            pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--worker":
        base, url, wid, conc, batch = sys.argv[2:]
        asyncio.run(_worker(base, url, wid, int(conc), int(batch)))
    else:
        asyncio.run(main())
