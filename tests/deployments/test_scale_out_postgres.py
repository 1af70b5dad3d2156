"""Scale-out: a sharded billing run executed by TWO process workers of one work pool, on a
PostgreSQL ledger, bills every due subscription exactly once and misses none."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import httpx
import psycopg
import pytest
from sqlmodel import select

from payflows.gateway import PreciumClient
from payflows.ledger import PaymentAttempt, Subscription, UnitOfWork, make_engine
from payflows.ledger.migrate import upgrade
from payflows.payments import PaymentContext
from payflows.sandbox import running_sandbox
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY
from tests.billing.conftest import FIRST, PG_DSN, World, pg_available
from tests.deployments.support import (
    BIN,
    child_env,
    quick_run,
    started,
    wait_deployments,
    wait_final,
)
from tests.deployments.test_prefect_yaml_worker import POOL, deploy_all
from tests.flows.conftest import sandbox_config
from tests.support.prefect_server import PrefectServer

pytestmark = pytest.mark.postgres

DUE = 300
SHARDS = 4


@pytest.fixture
def pg_ledger() -> Iterator[str]:
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    name = f"payflows_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        from tasks.runtime import dispose_engines

        dispose_engines()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_two_workers_bill_every_due_subscription_once(
    prefect_api: PrefectServer, pg_ledger: str, tmp_path
) -> None:
    with running_sandbox(sandbox_config()) as base_url:
        engine = make_engine(pg_ledger)
        origin = base_url.removesuffix("/api/v1/")
        async with (
            PreciumClient(base_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID) as gw,
            httpx.AsyncClient(
                base_url=origin, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}
            ) as http,
        ):
            world = World(ctx=PaymentContext(gateway=gw, engine=engine), http=http, tokens={})
            subs = await world.subscribe(DUE - 50, prefix="scale")
            subs += await world.subscribe(50, "5100000000000008", prefix="scale-mc")
            env = child_env(
                prefect_api,
                PRECIUM_BASE_URL=base_url,
                PAYFLOWS_DATABASE_URL=pg_ledger,
                PRECIUM_TIMEOUT_SECONDS="10",
                PREFECT_WORKER_QUERY_SECONDS="1",
            )
            deploy_all(env, POOL)
            logs = {n: tmp_path / f"{n}.log" for n in ("worker-a", "worker-b")}
            # Two runs at a time per worker: the parent holds one slot of its worker until the
            # shards are done, and the shards run side by side on the slots left.
            command = [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--limit", "2"]
            with (
                started([*command, "--name", "worker-a"], env, logs["worker-a"]) as a,
                started([*command, "--name", "worker-b"], env, logs["worker-b"]),
            ):
                found = await wait_deployments(
                    ["sharded-billing/scale-out", "subscription-billing/shard"], a, logs["worker-a"]
                )
                as_of = (FIRST + timedelta(hours=1)).isoformat()
                run = await quick_run(
                    found["sharded-billing/scale-out"].id,
                    {
                        "shards": SHARDS,
                        "as_of": as_of,
                        "batch_size": 25,
                        "deployment": "subscription-billing/shard",
                    },
                )
                done = await wait_final([run.id], timeout=240)
                text = {n: p.read_text() for n, p in logs.items()}
                assert done[run.id].state_name == "Completed", text
            paid = await world.paid_by_reference()
        engine.dispose()

    # Exactly once, none missed: one paid purchase per due subscription, nothing else.
    expected = {f"sub:{s}:2026-01-31" for s in subs}
    billed = Counter({ref: n for ref, n in paid.items() if ref.startswith("sub:")})
    assert set(billed) == expected and set(billed.values()) == {1}
    engine = make_engine(pg_ledger)
    with UnitOfWork(engine) as uow:
        attempts = uow.session.exec(select(PaymentAttempt)).all()
        per_sub = Counter(a.subscription_id for a in attempts if a.subscription_id)
        assert per_sub == dict.fromkeys(subs, 1)
        assert {a.state.value for a in attempts if a.subscription_id} == {"succeeded"}
        advanced = uow.session.exec(select(Subscription)).all()
        assert all(s.next_billing_at.month == 2 for s in advanced)
    engine.dispose()
    # Both workers ran flow runs (a run both tried to take is aborted by the server for one).
    began = {
        n: re.findall(r"Beginning (?:flow |subflow )?run '([^']+)' for flow '([^']+)'", t)
        for n, t in text.items()
    }
    assert all(began.values()), began
    runs = Counter(run for found in began.values() for run in found)
    shards = {name for name, flow in runs if flow == "subscription-billing"}
    assert shards == {f"shard-{i}-of-{SHARDS}" for i in range(1, SHARDS + 1)}
    assert set(runs.values()) == {1}  # no shard ran twice
