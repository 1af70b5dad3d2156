"""Chaos: thousands of subscriptions and one-off charges, every kind of gateway fault, the
biller SIGKILLed mid-run.

Afterwards, per the sandbox's inspection API, every due subscription period and every due
one-off charge has exactly one paid purchase, and the ledger agrees with the gateway on every
purchase.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from payflows.gateway import PreciumClient
from payflows.ledger import AttemptKind, AttemptState, OneOffChargeStatus, make_engine
from payflows.ledger.migrate import upgrade
from payflows.payments import PaymentContext
from payflows.sandbox import SandboxConfig, running_sandbox
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY

from .conftest import FIRST, World

N = 1500
M = 450  # one-off charges
ROOT = Path(__file__).resolve().parents[2]
ROUTES = ["POST /api/v1/purchases/", "POST /api/v1/purchases/*/charge/"]
KINDS = ["error_5xx", "rate_limit", "drop", "lost_after_commit"]


def worker(base_url: str, db_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.billing.chaos_worker", base_url, db_url, "chaos-1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def count_mit(world: World) -> Counter[AttemptState]:
    return Counter(a.state for a in world.attempts() if a.kind is AttemptKind.MIT)


async def test_sigkill_mid_run_and_faults_still_bill_each_period_once(tmp_path):
    db_url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(db_url)
    engine = make_engine(db_url)
    with running_sandbox(SandboxConfig(seed=99)) as base_url:
        origin = base_url.removesuffix("/api/v1/")
        async with (
            PreciumClient(
                base_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID
            ) as gateway,
            httpx.AsyncClient(
                base_url=origin, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}
            ) as http,
        ):
            world = World(ctx=PaymentContext(gateway=gateway, engine=engine), http=http, tokens={})
            subs: list[int] = []
            plans: list[str] = []
            for card in ("4111111111111111", "5100000000000008", "4000000000000010"):
                subs += await world.subscribe(N // 3, card)
                plans += await world.plan_one_offs(M // 3, card)
            rules = [
                {
                    "route": route,
                    "kind": kind,
                    "rate": 0.04,
                    **({"retry_after": 0} if kind == "rate_limit" else {}),
                }
                for route in ROUTES
                for kind in KINDS
            ]
            rules.append({"route": "GET /api/v1/purchases/*/", "kind": "error_5xx", "rate": 0.05})
            await world.faults(*rules)

            first = worker(base_url, db_url)
            deadline = time.monotonic() + 60
            # Kill it once it is well into the run, with charges in flight.
            while (
                time.monotonic() < deadline
                and count_mit(world)[AttemptState.SUCCEEDED] < (N + M) // 3
            ):
                time.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=10)  # reaps it and closes its pipes
            in_flight = count_mit(world)
            one_offs_left = sum(
                world.one_off(ext).status is not OneOffChargeStatus.CHARGED for ext in plans
            )
            print("after SIGKILL:", dict(in_flight), "one-off charges unsettled:", one_offs_left)
            assert in_flight[AttemptState.SUCCEEDED] < N + M, "the run finished before the kill"
            assert one_offs_left > 0, "the kill came after every one-off charge was settled"

            second = worker(base_url, db_url)
            _out, err = second.communicate(timeout=120)
            assert second.returncode == 0, err[-3000:]
            await world.faults()
            third = worker(base_url, db_url)
            out3, err3 = third.communicate(timeout=120)
            assert third.returncode == 0, err3[-3000:]
            summary = json.loads(out3.strip().splitlines()[-1])
            assert summary["unknown"] == 0

            paid = await world.paid_by_reference()
            missing = [s for s in subs if paid[f"sub:{s}:2026-01-31"] != 1]
            assert not missing, (missing[:10], in_flight)
            unpaid = [ext for ext in plans if paid[f"oneoff:{ext}"] != 1]
            assert not unpaid, (unpaid[:10], in_flight)
            assert sum(paid.values()) == N + M
            attempts = [a for a in world.attempts() if a.kind is AttemptKind.MIT]
            assert len(attempts) == N + M
            response = await http.get("/_sandbox/purchases/", params={"status": "paid"})
            paid_ids = {p["reference"]: p["id"] for p in response.json()["results"]}
            for attempt in attempts:
                assert attempt.state is AttemptState.SUCCEEDED, attempt
                assert paid_ids[attempt.business_key] == attempt.purchase_id
            for sub in subs[:50]:
                assert world.subscription(sub).next_billing_at == FIRST.replace(month=2, day=28)
            by_id = {a.id: a for a in attempts}
            for ext in plans:
                plan = world.one_off(ext)
                assert plan.status is OneOffChargeStatus.CHARGED, plan
                assert by_id[plan.attempt_id].business_key == f"oneoff:{ext}"
    engine.dispose()
