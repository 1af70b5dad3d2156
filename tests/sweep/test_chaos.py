"""Chaos: ``payflows sweep`` SIGKILLed twice mid-run under gateway faults, then run again as a
user would (a new process each time, no worker id given, no waiting) until it says it is done.

Afterwards, per the sandbox's inspection API, every hold was captured or released exactly once,
the ledger agrees with the gateway on every one, no claim is left, and every run's exit code
matches what its summary says.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from tests.support.chaos import Chaos

from .conftest import World

N = 240
WRITES = ("POST /api/v1/purchases/*/capture/", "POST /api/v1/purchases/*/release/")


def acted(db_url: str) -> int:
    path = Path(db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM payment_attempts"
            " WHERE kind IN ('capture', 'void') AND state = 'succeeded'"
        ).fetchone()
    return int(row[0])


async def test_two_sigkills_and_reruns_as_a_user_act_on_each_hold_once(world: World, tmp_path):
    kinds = {}
    for i in range(N):
        pid = await world.hold(("visa_cit", "mastercard", "maestro")[i % 3])
        kind = ("capture", "void", "partial")[i % 3]
        world.decide(
            pid, "void" if kind == "void" else "capture", 1234 if kind == "partial" else None
        )
        kinds[pid] = kind
    rules = [
        {"route": route, "kind": kind, "rate": 0.04, **extra}
        for route in WRITES
        for kind, extra in (
            ("error_5xx", {"status": 503}),
            ("error_5xx", {"status": 500}),
            ("drop", {}),
            ("lost_after_commit", {}),
            ("rate_limit", {"retry_after": 0}),
        )
    ]
    rules += [
        {"route": route, "kind": "latency", "ms": 40}
        for route in (*WRITES, "GET /api/v1/purchases/*/")
    ]
    rules += [{"route": route, "kind": "latency", "ms": 3500, "rate": 0.02} for route in WRITES]
    await world.faults(*rules)
    as_of = (await world.now()).isoformat()
    chaos = Chaos(["sweep", "--as-of", as_of], world.base_url, world.db_url, tmp_path / "op")
    chaos.kill_when(lambda: acted(world.db_url) >= N // 4)
    chaos.kill_when(lambda: acted(world.db_url) >= N * 2 // 3)
    last = chaos.until_complete()
    for run in chaos.runs:
        print(run.line())

    assert sum(r.killed for r in chaos.runs) == 2, [r.line() for r in chaos.runs]
    for run in chaos.runs:
        if not run.killed:
            assert run.summary is not None, run.stderr
            assert (run.exit_code == 0) == run.complete, run.line()
            assert not run.summary.get("left"), run.line()  # nothing held by a dead sweep
    assert last.exit_code == 0, [r.line() for r in chaos.runs]
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
    assert acted(world.db_url) == N
