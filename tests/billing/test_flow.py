"""The ``subscription-billing`` flow on the session's Prefect server, sandbox over loopback."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.billing import subscription_billing
from payflows.gateway import PreciumClient
from payflows.ledger import make_engine
from payflows.payments import PaymentContext
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY
from tasks.billing import summary_rows

from .conftest import FIRST, World


async def test_flow_bills_and_publishes_artifacts(sandbox, ledger, sandbox_url):
    engine = make_engine(ledger.url)
    async with PreciumClient(
        sandbox_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID
    ) as gateway:
        world = World(
            ctx=PaymentContext(gateway=gateway, engine=engine), http=sandbox.http, tokens={}
        )
        paid = await world.subscribe(5, prefix=f"flow-{id(world)}")
        [declined] = await world.subscribe(1, "4000000000000085", prefix=f"flowd-{id(world)}")
        one_offs = await world.plan_one_offs(2, amount_cents=5000, prefix=f"flowo-{id(world)}")
    engine.dispose()
    summary = await subscription_billing(
        as_of=FIRST.replace(hour=7), concurrency=4, worker_id="flow-test"
    )
    assert summary.succeeded == 7 and summary.declined == 1
    assert summary.one_off_succeeded == 2
    assert summary.declines_by_code == {"insufficient_funds": 1}
    rows = {r["item"]: r["value"] for r in summary_rows(summary)}
    assert rows["succeeded"] == "7" and rows["declined insufficient_funds"] == "1"
    assert rows["one_off_succeeded"] == "2" and "100" in rows["one-off paid ZAR"]
    assert rows["dunning: soft decline insufficient_funds"] == "1"
    assert "595" in rows["paid ZAR"]
    for ext in one_offs:
        [p] = await sandbox.purchases(f"oneoff:{ext}")
        assert p["status"] == "paid"
    for sub in paid:
        assert (
            len(
                [
                    p
                    for p in await sandbox.purchases(f"sub:{sub}:2026-01-31")
                    if p["status"] == "paid"
                ]
            )
            == 1
        )
    assert declined
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["billing-summary", "billing-progress"])
            )
        )
    assert {a.key for a in artifacts} >= {"billing-summary", "billing-progress"}


async def test_bill_command_prints_json_and_exit_code(sandbox, ledger, sandbox_url, capsys):
    import asyncio
    import json

    from apps.billing_cli import bill_command

    engine = make_engine(ledger.url)
    async with PreciumClient(
        sandbox_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID
    ) as gateway:
        world = World(
            ctx=PaymentContext(gateway=gateway, engine=engine), http=sandbox.http, tokens={}
        )
        await world.subscribe(2, prefix=f"cli-{id(world)}")
        await world.plan_one_offs(1, amount_cents=5000, prefix=f"clio-{id(world)}")
    engine.dispose()
    code = await asyncio.to_thread(
        bill_command, as_of="2026-01-31T07:00:00", json_out=True, worker_id="cli-test"
    )
    assert code == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{") :])
    assert summary["succeeded"] == 3 and summary["amounts_cents"] == {"ZAR": 24800}
    assert summary["one_off_succeeded"] == 1
    assert summary["one_off_amounts_cents"] == {"ZAR": 5000}


async def test_bill_command_without_a_prefect_server_bills_on_the_core(
    sandbox, ledger, sandbox_url, capsys, monkeypatch
):
    import asyncio
    import json

    from apps.billing_cli import bill_command

    monkeypatch.setattr("apps.pipeline_mode.prefect_api_url", lambda: None)
    engine = make_engine(ledger.url)
    async with PreciumClient(
        sandbox_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID
    ) as gateway:
        world = World(
            ctx=PaymentContext(gateway=gateway, engine=engine), http=sandbox.http, tokens={}
        )
        await world.subscribe(2, prefix=f"core-{id(world)}")
    engine.dispose()
    code = await asyncio.to_thread(
        bill_command, as_of="2026-01-31T07:00:00", json_out=True, worker_id="core-test"
    )
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{") :])
    assert code == 0 and summary["complete"] and summary["problem"] is None
    assert summary["succeeded"] == 2


async def test_flow_past_the_failure_threshold_ends_failed_with_its_summary(
    sandbox, ledger, sandbox_url
):
    import pytest

    from payflows.exactly_once import RunIncomplete
    from tests.sweep.test_flow import last_run_state

    engine = make_engine(ledger.url)
    async with PreciumClient(
        sandbox_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID
    ) as gateway:
        world = World(
            ctx=PaymentContext(gateway=gateway, engine=engine), http=sandbox.http, tokens={}
        )
        await world.subscribe(1, prefix=f"thr-{id(world)}")
        await world.subscribe(1, "4000000000000085", prefix=f"thrd-{id(world)}")
    engine.dispose()
    with pytest.raises(RunIncomplete, match="above the 10% threshold") as failed:
        await subscription_billing(
            as_of=FIRST.replace(hour=7), worker_id="thr-test", max_failure_rate=0.1
        )
    assert failed.value.summary.succeeded >= 1 and failed.value.summary.declined >= 1
    state, message = await last_run_state("subscription-billing")
    assert state == "FAILED" and "billing run not complete" in message
