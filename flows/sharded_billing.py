"""Billing across several machines: ``sharded-billing`` starts N runs of a billing deployment.

Each child is a run of the billing deployment its parameters name (the catalog gives
``subscription-billing/shard``: deployments point at flows, and no flow knows a deployment's
name), with its own ``worker_id``; the work pool's workers pick them up wherever they run.
Nothing is split up front: every child claims due subscriptions in batches (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so two children never bill the same subscription, a slow child simply
claims fewer batches, and a child that dies leaves its claims, whose short lease its heartbeat
no longer renews, to be taken over within a minute by a sibling still running or by the next
run. The parent waits for all of them and adds their summaries up; it fails when any child did
not complete or work was left.

``billing_shard`` is ``subscription-billing`` with its result persisted (a small summary of
counts and amounts, never card data), so the parent can read it back from result storage. On
several machines that storage must be shared (docs/production.md).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from datetime import datetime
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.deployments import run_deployment
from prefect.runtime import flow_run

from flows._fields import described
from flows._pipeline import (
    MaxFailureRate,
    WorkerId,
    fail_if_incomplete,
    pipeline_run_name,
    resolve_as_of,
    technical,
)
from flows.billing import (
    BatchSize,
    BillAsOf,
    CatchUp,
    ChargesInFlight,
    RatePerSecond,
    subscription_billing,
)
from payflows.billing import BillingSummary
from tasks.billing import summary_rows

__all__ = [
    "ShardsFailed",
    "billing_shard",
    "combine",
    "shard_worker_ids",
    "sharded_billing",
]

NAME = "sharded-billing"


@flow(name=subscription_billing.name, persist_result=True, result_serializer="json")
async def billing_shard(
    as_of: BillAsOf = None,
    catch_up: CatchUp = False,
    max_failure_rate: MaxFailureRate = None,
    rate_per_second: RatePerSecond = None,
    batch_size: BatchSize = 500,
    concurrency: ChargesInFlight = 32,
    worker_id: WorkerId = None,
) -> BillingSummary:
    """``subscription-billing`` (the same flow body and parameters) whose summary is persisted
    for the parent.

    A function of its own, not ``with_options``: a deployment's entrypoint is the function's
    own module and name, and this one must differ from the nightly run's.
    """
    return await subscription_billing.fn(
        as_of, catch_up, max_failure_rate, rate_per_second, batch_size, concurrency, worker_id
    )


class ShardsFailed(Exception):
    """A child run did not complete: its claims lapse and the next run bills what it left."""


def combine(as_of: datetime, worker_id: str, summaries: list[BillingSummary]) -> BillingSummary:
    """The shards' summaries added up (amounts per currency, declines per code)."""
    counts = [
        "reconciled",
        "claimed",
        "charged",
        "succeeded",
        "declined",
        "unknown",
        "failed",
        "retry_scheduled",
        "suspended",
        "skipped_periods",
        "resent",
    ]
    amounts: Counter[str] = Counter()
    declines: Counter[str] = Counter()
    left: Counter[str] = Counter()
    for s in summaries:
        amounts.update(s.amounts_cents)
        declines.update(s.declines_by_code)
        left.update(s.left)
    return BillingSummary(
        as_of=as_of,
        worker_id=worker_id,
        amounts_cents=dict(amounts),
        declines_by_code=dict(declines),
        left=dict(left),
        left_items=[item for s in summaries for item in s.left_items][:100],
        seconds=max((s.seconds for s in summaries), default=0.0),
        **{name: sum(getattr(s, name) for s in summaries) for name in counts},
    )


@task(name="publish-sharded-summary", persist_result=False, cache_policy=NO_CACHE)
async def _publish(total: BillingSummary, shards: list[tuple[str, BillingSummary]]) -> None:
    await create_table_artifact(
        key="billing-summary",
        table=summary_rows(total),
        description=f"Sharded billing at {total.as_of.isoformat()}: {len(shards)} shards",
    )
    await create_table_artifact(
        key="billing-shards",
        table=[
            {
                "shard": name,
                "claimed": s.claimed,
                "succeeded": s.succeeded,
                "declined": s.declined,
                "unknown": s.unknown,
                "seconds": f"{s.seconds:.1f}",
            }
            for name, s in shards
        ],
        description="What each shard billed (each claimed its own batches).",
    )


def shard_worker_ids(parent: str, shards: int) -> list[str]:
    """``shard-{i}-of-{n}:{parent}:{random}``: unique per child run, never reused.

    A retried parent starts new shards under the same parent id; a shard's billing run gives
    back every claim held under its worker id when it starts, so reusing the id of a shard
    still running would free that live shard's claims. The random suffix keeps them apart.
    """
    suffix = secrets.token_hex(4)
    return [f"shard-{i + 1}-of-{shards}:{parent}:{suffix}" for i in range(shards)]


@flow(name=NAME, flow_run_name=pipeline_run_name("sharded-billing", "as_of"), persist_result=False)
async def sharded_billing(
    *,
    shards: Annotated[
        int, described(ge=1, le=64, description="Child runs started at once, each its own worker.")
    ] = 2,
    as_of: BillAsOf = None,
    catch_up: CatchUp = False,
    max_failure_rate: MaxFailureRate = None,
    rate_per_second: Annotated[
        float | None,
        described(
            gt=0, description="At most this many charges per second, per shard; default: no cap."
        ),
    ] = None,
    batch_size: BatchSize = 200,
    concurrency: Annotated[
        int, described(ge=1, le=512, description=technical("charges in flight per shard."))
    ] = 16,
    deployment: Annotated[
        str,
        described(
            min_length=3,
            pattern=r"^[^/]+/[^/]+$",
            description=technical(
                "the child deployment, flow/deployment (deployments/catalog.py gives it)."
            ),
        ),
    ],
) -> BillingSummary:
    """Start ``shards`` runs of ``deployment``, wait for them, add up their summaries."""
    logger = get_run_logger()
    # One as_of for every shard, fixed now: shards starting late bill the same set.
    when = resolve_as_of(as_of)
    parent = flow_run.id or "local"
    names = shard_worker_ids(str(parent), shards)
    child = {
        "as_of": when.isoformat(),
        "catch_up": catch_up,
        "max_failure_rate": max_failure_rate,
        "rate_per_second": rate_per_second,
        "batch_size": batch_size,
        "concurrency": concurrency,
    }
    runs = await asyncio.gather(
        *(
            run_deployment(
                deployment,
                parameters={**child, "worker_id": name},
                flow_run_name=name.split(":", 1)[0],
                timeout=None,
                poll_interval=2,
                tags=["sharded-billing"],
            )
            for name in names
        )
    )
    done: list[tuple[str, BillingSummary]] = []
    failed = []
    for name, run in zip(names, runs, strict=True):
        state = run.state
        if state is None or not state.is_completed():
            failed.append(f"{run.name} ({state.name if state else 'no state'})")
            continue
        result = await state.result()  # type: ignore[misc]
        done.append((name, BillingSummary.model_validate(result)))
        logger.info(
            "%s billed %d (claimed %d)", run.name, done[-1][1].succeeded, done[-1][1].claimed
        )
    total = combine(when, f"sharded:{parent}", [s for _, s in done])
    await _publish(total, done)
    if failed:
        raise ShardsFailed(
            f"{len(failed)} of {shards} shards did not complete: {', '.join(failed)}; "
            "each names what it left in its own run; a crashed one's claims lapse within its "
            "lease and the next run bills what it left"
        )
    fail_if_incomplete(total, max_failure_rate)
    return total
