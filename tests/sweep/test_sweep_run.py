"""The sweep on the sandbox's clock: every network, every kind of decision, day by day.

The sandbox expires holds by network on its own clock; the sweep runs once a day with
``as_of`` = the sandbox's now. Whatever the decision (fulfilled in full or in part, cancelled,
none with the default or the hold's own policy, alert answered by a person), every hold ends
captured or voided before its deadline and none lapses. What the gateway shows (inspection API)
is the judge: exactly one capture or release per purchase.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from payflows.domain.states import Status
from payflows.ledger import AttemptKind, AttemptState, PaymentAttempt, UnitOfWork
from payflows.sweep import sweep_holds

from .conftest import DAY, NETWORKS, World

CAPTURED = {"paid", "cleared", "settled"}


async def sweep(world: World, worker: str = "sweeper", **kw):
    return await sweep_holds(world.ctx, as_of=await world.now(), worker_id=worker, **kw)


async def gateway_actions(world: World, purchase_id: str) -> Counter[str]:
    """Successful capture / release attempts the gateway recorded on the purchase."""
    p = await world.purchase(purchase_id)
    return Counter(
        a["type"]
        for a in p["transaction_data"]["attempts"]
        if a["type"] in ("capture", "release") and a.get("successful", True)
    )


def attempts(world: World, kind: AttemptKind) -> list[PaymentAttempt]:
    from sqlmodel import select

    with UnitOfWork(world.ctx.engine) as uow:
        return list(uow.session.exec(select(PaymentAttempt).where(PaymentAttempt.kind == kind)))


async def test_every_network_every_decision_walked_day_by_day_none_lapses(world: World):
    # (network, decision, when decided (day), amount) for holds created on days 0..3 at
    # various hours: the default policy (capture), the hold's own void, alert then a person.
    plan: list[tuple[str, str, int | None, int | None]] = []
    for network in NETWORKS:
        plan += [
            (network, "undecided", None, None),
            (network, "policy-void", None, None),
            (network, "alert", None, None),
            (network, "capture", 0, None),
            (network, "partial", 1, 2500),
            (network, "void", 2, None),
        ]
    holds: dict[str, tuple[str, str, int | None, int | None, int]] = {}
    created_day = 0
    for i, (network, kind, day, amount) in enumerate(plan):
        if i and i % 10 == 0:
            # Created at different times: a day and a few hours apart in batches.
            await world.advance(DAY // 4 + 3600 * (i % 7))
            created_day += 1
        pid = await world.hold(network)
        if kind == "policy-void":
            world.policy(pid, "void")
        elif kind == "alert":
            world.policy(pid, "alert")
        holds[pid] = (network, kind, day, amount, created_day)
    decided_on: dict[str, int] = {}
    alerted: set[str] = set()
    for day in range(0, 33):
        for pid, (_net, kind, when, amount, born) in holds.items():
            if when is not None and day == born + when and pid not in decided_on:
                world.decide(pid, "void" if kind == "void" else "capture", amount)
                decided_on[pid] = day
        summary = await sweep(world)
        assert summary.expired == 0 and summary.unknown == 0 and summary.failed == 0, summary
        for u in summary.unresolved:
            assert u.action == "alerted"
            # A person answers the alert: fulfilled, captured at the next (hourly) sweep.
            world.decide(u.purchase_id, "capture")
            alerted.add(u.purchase_id)
        if summary.unresolved:
            await world.advance(3600)
            answered = await sweep(world)
            assert answered.captured == len(summary.unresolved), answered
        rows = world.holds()
        for pid in decided_on:
            if decided_on[pid] < day:
                # A decision is acted on at the next sweep, not at the margin.
                assert rows[pid].status != Status.HOLD, (holds[pid], day)
        await world.advance(DAY)
    rows = world.holds()
    for pid, (network, kind, _when, _amount, _born) in holds.items():
        p = await world.purchase(pid)
        hold = rows[pid]
        assert p["status"] != "expired", (network, kind)
        actions = world.actions(pid)
        [act] = [a for a in actions if a.action in ("captured", "partially_captured", "voided")]
        assert act.as_of < hold.expires_at, (network, kind, act.as_of, hold.expires_at)
        assert act.as_of <= hold.expires_at - (hold.expires_at - hold.authorised_at) / 5 or (
            kind in ("undecided", "policy-void", "alert")
        )
        done = await gateway_actions(world, pid)
        if kind in ("void", "policy-void"):
            assert p["status"] == "released" and done == Counter(release=1), (network, kind)
            assert act.action == "voided"
        else:
            assert p["status"] in CAPTURED and done == Counter(capture=1), (network, kind, p)
            if kind == "partial":
                assert act.action == "partially_captured" and hold.captured_cents == 2500
                assert p["payment"]["amount"] == 2500  # the remainder was released
            else:
                assert act.action == "captured" and hold.captured_cents == 10_000
    assert alerted == {pid for pid, v in holds.items() if v[1] == "alert"}
    # Every undecided hold was acted on at its act-by time, not before.
    for pid, (_network, kind, *_rest) in holds.items():
        if kind in ("undecided", "policy-void"):
            act = world.actions(pid)[-1]
            hold = rows[pid]
            assert act.as_of >= hold.expires_at - world.ctx.windows.safety_margin
            assert "act-by" in act.reason
    captures = attempts(world, AttemptKind.CAPTURE)
    assert all(a.state is AttemptState.SUCCEEDED for a in captures)
    assert len(captures) == len({a.related_purchase_id for a in captures})


async def test_a_second_sweep_finds_nothing_to_do(world: World):
    pids = [await world.hold("visa_cit") for _ in range(3)]
    world.decide(pids[0], "capture")
    world.decide(pids[1], "void")
    first = await sweep(world)
    assert (first.captured, first.voided, first.selected) == (1, 1, 2)
    again = await sweep(world)
    assert again.selected == 0 and again.acted == 0
    for pid in pids[:2]:
        assert sum((await gateway_actions(world, pid)).values()) == 1


async def test_changes_made_in_the_back_office_are_reconciled_not_repeated(world: World):
    captured, voided, lapsed, partial = [await world.hold("visa_cit") for _ in range(4)]
    world.decide(captured, "capture")
    world.decide(voided, "capture")
    world.decide(partial, "void")
    # Someone captures, voids and partially captures in the gateway's back office.
    await world.ctx.gateway.capture(captured, None)
    await world.ctx.gateway.release(voided)
    await world.ctx.gateway.capture(partial, 4000)
    summary = await sweep(world)
    assert summary.reconciled == 3 and summary.acted == 0, summary
    rows = world.holds()
    assert rows[captured].status is Status.PAID and rows[captured].captured_cents == 10_000
    assert rows[voided].status is Status.RELEASED
    assert rows[partial].status is Status.PAID and rows[partial].captured_cents == 4000
    for pid in (captured, voided, partial):
        assert sum((await gateway_actions(world, pid)).values()) == 1
        assert world.actions(pid)[-1].action == "reconciled"
    # A hold nobody swept before it lapsed: read back, recorded as expired, raised for a person.
    await world.advance(8 * DAY)
    summary = await sweep(world)
    assert summary.expired == 1 and [u.purchase_id for u in summary.unresolved] == [lapsed]
    assert world.holds()[lapsed].status is Status.EXPIRED
    assert world.holds()[lapsed].alerted_at is not None
    assert (await sweep(world)).selected == 0


async def test_alert_policy_leaves_the_hold_and_says_so_every_sweep(world: World):
    pid = await world.hold("mastercard")
    world.policy(pid, "alert")
    assert (await sweep(world)).selected == 0  # 30 days ahead: nothing due yet
    await world.advance(29 * DAY + 60)
    first = await sweep(world)
    assert first.alerted == 1 and first.unresolved[0].reason.endswith("hold policy alert")
    second = await sweep(world)
    assert second.alerted == 1
    assert (await world.purchase(pid))["status"] == "hold"
    world.decide(pid, "void")
    done = await sweep(world)
    assert done.voided == 1 and done.released_cents == {"ZAR": 10_000}
    assert world.holds()[pid].alerted_at is None


async def test_faults_on_capture_and_void_change_nothing_in_the_outcome(world: World):
    decisions = {}
    for i in range(24):
        pid = await world.hold(list(NETWORKS)[i % 5])
        kind = ("capture", "void", "partial")[i % 3]
        world.decide(
            pid, "void" if kind == "void" else "capture", 3000 if kind == "partial" else None
        )
        decisions[pid] = kind
    rules = [
        {
            "route": route,
            "kind": kind,
            "rate": 0.25,
            **({"retry_after": 0} if kind == "rate_limit" else {}),
        }
        for route in ("POST /api/v1/purchases/*/capture/", "POST /api/v1/purchases/*/release/")
        for kind in ("error_5xx", "drop", "lost_after_commit", "rate_limit")
    ]
    rules.append({"route": "GET /api/v1/purchases/*/", "kind": "error_5xx", "rate": 0.1})
    await world.faults(*rules)
    summaries = [await sweep(world, concurrency=8)]
    for _ in range(4):
        if not any(h.status == Status.HOLD for h in world.holds().values()):
            break
        summaries.append(await sweep(world, concurrency=8))
    await world.faults()
    summaries.append(await sweep(world))
    assert summaries[-1].unknown == 0 and summaries[-1].failed == 0
    assert sum(s.unknown for s in summaries[:-1]) > 0 or sum(s.reconciled for s in summaries) > 0
    rows = world.holds()
    for pid, kind in decisions.items():
        p = await world.purchase(pid)
        done = await gateway_actions(world, pid)
        if kind == "void":
            assert p["status"] == "released" and done == Counter(release=1)
        else:
            assert p["status"] in CAPTURED and done == Counter(capture=1)
            assert rows[pid].captured_cents == (3000 if kind == "partial" else 10_000)
    for a in attempts(world, AttemptKind.CAPTURE) + attempts(world, AttemptKind.VOID):
        assert a.state is AttemptState.SUCCEEDED, a


async def test_two_sweeps_at_once_act_on_each_hold_once(world: World):
    pids = [await world.hold(("visa_cit", "mastercard")[i % 2]) for i in range(20)]
    for i, pid in enumerate(pids):
        world.decide(pid, "capture" if i % 2 else "void")
    a, b = await asyncio.gather(
        sweep(world, "sweeper-a", concurrency=4, batch_size=5),
        sweep(world, "sweeper-b", concurrency=4, batch_size=5),
    )
    assert a.acted + b.acted + a.reconciled + b.reconciled == 20
    for pid in pids:
        assert sum((await gateway_actions(world, pid)).values()) == 1
    assert len(world.actions()) == 20


async def test_a_limited_sweep_names_what_it_left_due(world: World):
    pids = [await world.hold("visa_cit") for _ in range(5)]
    for pid in pids:
        world.decide(pid, "capture")
    first = await sweep(world, limit=2, batch_size=1, concurrency=1)
    assert first.captured == 2
    assert first.left == {"limit reached: the next sweep selects them": 3}
    assert not first.complete
    second = await sweep(world)
    assert second.captured == 3 and second.left == {} and second.complete


async def test_a_failed_grouped_write_leaves_its_holds_and_the_sweep_goes_on(
    world: World, monkeypatch
):
    import payflows.sweep.run as run_module

    pids = [await world.hold("visa_cit") for _ in range(4)]
    for pid in pids:
        world.decide(pid, "capture")
    real = run_module.apply_results
    failed: list[int] = []

    def once(run, uow, results):
        if not failed:
            failed.append(len(results))
            raise RuntimeError("database went away")
        return real(run, uow, results)

    monkeypatch.setattr(run_module, "apply_results", once)
    first = await sweep(world, batch_size=1, concurrency=1)
    reason = "ledger write failed (RuntimeError): read back by the next sweep"
    assert first.left == {reason: failed[0]} and not first.complete, first
    assert first.captured == 4 - failed[0]
    monkeypatch.setattr(run_module, "apply_results", real)
    second = await sweep(world)
    assert second.complete, second
    for pid in pids:  # captured once, the lost write read back by the second sweep
        assert (await gateway_actions(world, pid))["capture"] == 1


async def test_holds_whose_dead_holder_lapses_while_the_sweep_is_busy_are_swept(world: World):
    """The billing chaos failure of 2026-12-03, in the sweep: holds a killed sweep leased were
    passed over while its lease was live, and the lease lapsed while this sweep was still
    busy; the check for holds held by others found none, and the sweep ended complete."""
    import time
    from datetime import timedelta

    from sqlalchemy import update

    from payflows.ledger import Hold
    from payflows.ledger.models import utcnow

    pids = [await world.hold("visa_cit") for _ in range(6)]
    for pid in pids:
        world.decide(pid, "capture")
    dead_lease = 3.0
    with UnitOfWork(world.ctx.engine) as uow:
        uow.session.execute(
            update(Hold)
            .where(Hold.purchase_id.in_(pids[:3]))
            .values(claimed_by="dead-sweep", claimed_until=utcnow() + timedelta(seconds=dead_lease))
        )
        uow.commit()
    lapses = time.monotonic() + dead_lease
    slowed = False

    async def busy(_summary: object) -> None:
        # This sweep's own holds outlast the dead sweep's lease, as on a loaded machine.
        nonlocal slowed
        if not slowed:
            slowed = True
            await asyncio.sleep(max(0.0, lapses - time.monotonic()) + 0.3)

    done = await sweep(world, on_progress=busy)
    assert done.complete and done.captured == 6, done
    for pid in pids:
        assert (await gateway_actions(world, pid))["capture"] == 1
