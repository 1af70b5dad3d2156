"""The ``sharded-billing`` deployment itself on 1, 2 and 4 shard processes: Prefect included.

    .venv/bin/python bench/scale_prefect.py                 # 6,000 due, shards 1 2 4
    .venv/bin/python bench/scale_prefect.py 20000 --shards 1 2 4 --concurrency 32

``bench/scale.py`` measures billing processes with Prefect out of the way; this one runs what a
merchant deploys. A local Prefect server, ``prefect deploy`` of the checked-in ``prefect.yaml``
into a process work pool, one ``prefect worker`` with room for the parent and every shard, and
for each W a run of ``sharded-billing/scale-out`` with ``shards=W``: the parent starts W runs
of ``subscription-billing/shard``, each a process of its own, all billing one PostgreSQL ledger
(a database of its own at 127.0.0.1:5432, dropped at the end) against one sandbox process with
50 ms latency on every route.

Per W it prints:

* **end to end**: the parent run's start to its end as the server recorded them (scheduling,
  process start-up, imports and the summaries included), and charges per second over it;
* **billing**: the longest shard's own billing time (``BillingSummary.seconds``);
* **CPU of the shard processes** (user + system, read from ``/proc`` every 0.1 s while each
  lives, so up to 0.1 s of a process's last moments is missed) and charges per CPU-second of
  them; the parent's and the worker's CPU apart, and the sandbox's (the server's scheduler
  is off, so no scheduled run of another deployment shares the worker);
* how the batches were shared, and a check that every due subscription was charged exactly
  once (one MIT attempt each) before all are made due again for the next W.

The last line is the end-to-end speed-up of the largest W over the smallest. Not a test: run by
hand (a few minutes at the default size).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _sandbox import add_latency, free_port, start_sandbox
from billing import AS_OF, reset, setup
from scale import PG_DSN, _context, check_exactly_once, cpu_seconds

from apps.local_prefect import start_prefect_server, stop_process
from deployments import DEFAULT_WORK_POOL
from payflows.billing import BillingSummary
from payflows.ledger.migrate import upgrade
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY

ROOT = Path(__file__).resolve().parent.parent
PARENT = "sharded-billing/scale-out"
SHARD = "subscription-billing/shard"
BIN = Path(sys.executable).parent


class CpuWatch(threading.Thread):
    """CPU seconds of every descendant of ``root``, by the flow run it belongs to.

    A flow-run process carries ``PREFECT__FLOW_RUN_ID`` in its environment; its children (if
    any) are counted with it. Sampled every 0.1 s, the last sample of each process kept.
    """

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.cpu: dict[int, float] = {}
        self.run_of: dict[int, str | None] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.1):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()

    def sample(self) -> None:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        for pid in parents:
            if pid != self.root and not self._descends(pid, parents):
                continue
            try:
                self.cpu[pid] = cpu_seconds(pid)
            except (OSError, ValueError, IndexError):
                continue
            # Read until found: between fork and exec a process still has the worker's environ.
            if self.run_of.get(pid) is None:
                self.run_of[pid] = self._flow_run_id(pid)

    def _descends(self, pid: int, parents: dict[int, int]) -> bool:
        while pid in parents and parents[pid] > 1:
            pid = parents[pid]
            if pid == self.root:
                return True
        return False

    @staticmethod
    def _flow_run_id(pid: int) -> str | None:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            return None
        for item in env:
            if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                return item.split(b"=", 1)[1].decode()
        return None

    def by_run(self) -> dict[str | None, float]:
        totals: dict[str | None, float] = {}
        for pid, cpu in self.cpu.items():
            key = self.run_of.get(pid)
            totals[key] = totals.get(key, 0.0) + cpu
        return totals


def deploy(env: dict[str, str]) -> None:
    """The process work pool and the deployments of the checked-in prefect.yaml (``--all``:
    ``-n`` left the shard deployment out)."""
    subprocess.run(
        [str(BIN / "prefect"), "work-pool", "create", DEFAULT_WORK_POOL, "--type", "process",
         "--overwrite"],
        env=env, cwd=ROOT, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    done = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"prefect deploy failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


async def one_round(
    shards: int, concurrency: int, batch: int, env: dict[str, str], log: Path
) -> dict[str, Any]:
    """One sharded-billing run with ``shards`` shards, under a worker of its own."""
    from prefect.client.orchestration import get_client

    command = [str(BIN / "prefect"), "worker", "start", "--pool", DEFAULT_WORK_POOL]
    command += ["--limit", str(shards + 1), "--name", f"bench-{shards}"]
    with log.open("ab") as out:
        worker = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            cwd=ROOT, start_new_session=True,
        )  # fmt: skip
    watch = CpuWatch(worker.pid)
    watch.start()
    try:
        async with get_client() as client:
            deployment = await client.read_deployment_by_name(PARENT)
            run = await client.create_flow_run_from_deployment(
                deployment.id,
                parameters={
                    "shards": shards,
                    "as_of": AS_OF.isoformat(),
                    "batch_size": batch,
                    "concurrency": concurrency,
                    "deployment": SHARD,
                },
            )
            deadline = time.monotonic() + 3600
            while True:
                run = await client.read_flow_run(run.id)
                if run.state is not None and run.state.is_final():
                    break
                if worker.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the worker stopped or the run hung; see {log}")
                await asyncio.sleep(0.5)
            if not run.state.is_completed():
                sys.exit(f"sharded-billing ended {run.state.name}; see {log}")
            # The shards are the runs named shard-i-of-W that started after the parent.
            summaries: dict[str, BillingSummary] = {}
            for child in await client.read_flow_runs():
                if (
                    child.name.startswith("shard-")
                    and child.created is not None
                    and run.created is not None
                    and child.created >= run.created
                    and child.state is not None
                ):
                    result = await child.state.result()  # type: ignore[misc]
                    summaries[str(child.id)] = BillingSummary.model_validate(result)
    finally:
        stop_process(worker, grace=20.0)
        watch.stop()
    by_run = watch.by_run()
    shard_cpu = sum(cpu for key, cpu in by_run.items() if key in summaries)
    parent_cpu = by_run.get(str(run.id), 0.0)
    worker_cpu = sum(by_run.values()) - shard_cpu - parent_cpu
    assert run.start_time and run.end_time
    return {
        "wall": (run.end_time - run.start_time).total_seconds(),
        "billing": max(s.seconds for s in summaries.values()),
        "shard_cpu": shard_cpu,
        "parent_cpu": parent_cpu,
        "worker_cpu": worker_cpu,
        "shares": "/".join(str(s.claimed) for s in summaries.values()),
        "paid": sum(s.succeeded for s in summaries.values()),
        "processes": len(summaries),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=6000)
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--concurrency", type=int, default=32, help="charges in flight per shard")
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--latency-ms", type=int, default=50)
    args = ap.parse_args()

    database = f"bench_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_DSN, autocommit=True) as pg:
        pg.execute(f'CREATE DATABASE "{database}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    port = free_port()
    sandbox = start_sandbox(port)
    base = f"http://127.0.0.1:{port}/api/v1/"
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-prefect-"))
    try:
        upgrade(url)
        ctx = _context(base, url, 8)
        await setup(ctx, args.n)
        await ctx.gateway.aclose()
        add_latency(port, args.latency_ms)
        with ExitStack() as stack:
            # No scheduler: the deployments' schedules (settle-unresolved every minute, ...)
            # would otherwise run on the same worker and be counted as its CPU.
            quiet = {"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"}
            api_url, _ = stack.enter_context(
                start_prefect_server(tmp / "prefect", ui=False, extra_env=quiet)
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
            env.update(
                PREFECT_API_URL=api_url,
                PREFECT_HOME=str(tmp / "prefect"),
                PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(tmp / "prefect" / "storage"),
                PREFECT_WORKER_QUERY_SECONDS="1",
                PREFECT_SERVER_ANALYTICS_ENABLED="false",
                PRECIUM_BASE_URL=base,
                PRECIUM_API_KEY=SANDBOX_API_KEY,
                PRECIUM_S2S_API_KEY=SANDBOX_S2S_API_KEY,
                PRECIUM_BRAND_ID=SANDBOX_BRAND_ID,
                PAYFLOWS_DATABASE_URL=url,
            )
            from prefect.settings import PREFECT_API_URL, temporary_settings

            os.environ.update({k: v for k, v in env.items() if k.startswith("PREFECT_")})
            stack.enter_context(temporary_settings({PREFECT_API_URL: api_url}))
            deploy(env)
            print(
                f"{args.n:,} due subscriptions, {args.concurrency} in flight per shard, batches "
                f"of {args.batch_size}, {args.latency_ms} ms per call, PostgreSQL database "
                f"{database}, sandbox pid {sandbox.pid}, {os.cpu_count()} CPUs, load average "
                f"{os.getloadavg()[0]:.2f}"
            )
            results: dict[int, dict[str, Any]] = {}
            for shards in args.shards:
                await ctx.ledger(reset)
                sandbox_cpu = cpu_seconds(sandbox.pid)
                got = await one_round(
                    shards, args.concurrency, args.batch_size, env, tmp / "worker.log"
                )
                sandbox_cpu = cpu_seconds(sandbox.pid) - sandbox_cpu
                check_exactly_once(url, args.n)
                print(
                    f"  {shards} shard(s): end to end {got['wall']:.1f} s = "
                    f"{args.n / got['wall']:.0f} charges/s; billing {got['billing']:.1f} s = "
                    f"{args.n / got['billing']:.0f}/s; shard CPU {got['shard_cpu']:.1f} s in "
                    f"{got['processes']} processes = {args.n / got['shard_cpu']:.0f} charges per "
                    f"CPU-second; parent {got['parent_cpu']:.1f} s, worker "
                    f"{got['worker_cpu']:.1f} s, sandbox {sandbox_cpu:.1f} s CPU; "
                    f"{got['paid']} paid, claimed {got['shares']}; load average "
                    f"{os.getloadavg()[0]:.2f}",
                    flush=True,
                )
                results[shards] = got
        ctx.engine.dispose()
        low, high = min(results), max(results)
        print(
            f"sharded-billing {args.n:,} charges end to end: {high} shards "
            f"{args.n / results[high]['wall']:.0f}/s vs {low} "
            f"{args.n / results[low]['wall']:.0f}/s = "
            f"{results[low]['wall'] / results[high]['wall']:.2f}x "
            f"({args.n / results[high]['shard_cpu']:.0f} charges per shard CPU-second at {high}, "
            f"{args.n / results[low]['shard_cpu']:.0f} at {low})"
        )
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        with psycopg.connect(PG_DSN, autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
