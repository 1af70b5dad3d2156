"""Chaos: a sweep SIGKILLed mid-run, under gateway faults, then run again (twice).

Afterwards, per the sandbox's inspection API, every hold was captured or released exactly once,
and the ledger agrees with the gateway on every one.
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

from payflows.ledger import AttemptKind, AttemptState

from .conftest import World
from .test_sweep_run import attempts

N = 240
ROOT = Path(__file__).resolve().parents[2]


def worker(world: World, as_of: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.sweep.chaos_worker",
            world.base_url,
            world.db_url,
            "s-1",
            as_of,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def acted(world: World) -> int:
    return sum(
        1
        for a in attempts(world, AttemptKind.CAPTURE) + attempts(world, AttemptKind.VOID)
        if a.state is AttemptState.SUCCEEDED
    )


async def test_sigkill_mid_sweep_then_again_acts_on_each_hold_once(world: World):
    kinds = {}
    for i in range(N):
        pid = await world.hold(("visa_cit", "mastercard", "maestro")[i % 3])
        kind = ("capture", "void", "partial")[i % 3]
        world.decide(
            pid, "void" if kind == "void" else "capture", 1234 if kind == "partial" else None
        )
        kinds[pid] = kind
    rules = [
        {
            "route": route,
            "kind": kind,
            "rate": 0.05,
            **({"retry_after": 0} if kind == "rate_limit" else {}),
        }
        for route in ("POST /api/v1/purchases/*/capture/", "POST /api/v1/purchases/*/release/")
        for kind in ("error_5xx", "drop", "lost_after_commit", "rate_limit")
    ]
    rules += [
        {"route": route, "kind": "latency", "ms": 20}
        for route in (
            "POST /api/v1/purchases/*/capture/",
            "POST /api/v1/purchases/*/release/",
            "GET /api/v1/purchases/*/",
        )
    ]
    await world.faults(*rules)
    as_of = (await world.now()).isoformat()
    first = worker(world, as_of)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and acted(world) < N // 4:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)  # reaps it and closes its pipes
    done_before = acted(world)
    assert done_before < N, "the sweep finished before the kill"

    second = worker(world, as_of)
    _out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err[-3000:]
    await world.faults()
    third = worker(world, as_of)
    out3, err3 = third.communicate(timeout=180)
    assert third.returncode == 0, err3[-3000:]
    summary = json.loads(out3.strip().splitlines()[-1])
    failed = {(a.action, a.reason) for a in world.actions() if a.action in ("failed", "unknown")}
    assert summary["unknown"] == 0 and summary["failed"] == 0, (summary, failed)

    rows = world.holds()
    for pid, kind in kinds.items():
        p = await world.purchase(pid)
        done = Counter(
            a["type"]
            for a in p["transaction_data"]["attempts"]
            if a["type"] in ("capture", "release")
        )
        if kind == "void":
            assert p["status"] == "released" and done == Counter(release=1), (pid, p["status"])
        else:
            assert p["status"] == "paid" and done == Counter(capture=1), (pid, p["status"])
            assert p["payment"]["amount"] == (1234 if kind == "partial" else 10_000)
            assert rows[pid].captured_cents == p["payment"]["amount"]
        assert rows[pid].status.value == p["status"]
        assert rows[pid].claimed_by is None
    assert acted(world) == N
