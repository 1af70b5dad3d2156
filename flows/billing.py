"""The nightly subscription billing run as a Prefect flow (``subscription-billing``).

Reads like the business process: settle what a crash left in flight, bill every due period
and every due one-off charge once, show the summary. A run that could not resolve due work, or
whose share of declines and refusals passed ``max_failure_rate`` (default
``PAYFLOWS_MAX_FAILURE_RATE``), ends Failed with a message naming what was left
(:class:`~payflows.exactly_once.RunIncomplete`, which carries the summary): it never reports
success over work it left. The exactly-once work lives in :mod:`payflows.billing`; running the
flow twice (or two of them at once) bills each subscription period and each one-off charge once.

Its parameters are flat (one field each in the Prefect UI); ``sharded-billing`` passes the same
ones to each of its shards (:mod:`flows.sharded_billing`).
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow

from flows._fields import described
from flows._pipeline import (
    AsOf,
    MaxFailureRate,
    WorkerId,
    default_worker_id,
    fail_if_incomplete,
    pipeline_run_name,
    resolve_as_of,
    technical,
)
from payflows.billing import BillingSummary
from tasks import billing as tasks
from tasks.runtime import payment_context

__all__ = [
    "BatchSize",
    "BillAsOf",
    "CatchUp",
    "ChargesInFlight",
    "RatePerSecond",
    "default_worker_id",
    "subscription_billing",
]

NAME = "subscription-billing"

BillAsOf = Annotated[
    AsOf,
    described(
        description="Bill what is due at this time (ISO, e.g. 2026-03-01T02:00:00+02:00; "
        "without a zone it is UTC); empty: now."
    ),
]
CatchUp = Annotated[
    bool,
    described(
        description="Bill each missed period in turn (one per run) instead of only the latest."
    ),
]
RatePerSecond = Annotated[
    float | None,
    described(
        gt=0,
        description="At most this many charges per second toward the gateway; default: no cap.",
    ),
]
BatchSize = Annotated[
    int, described(ge=1, le=10_000, description=technical("subscriptions claimed per batch."))
]
ChargesInFlight = Annotated[
    int, described(ge=1, le=512, description=technical("charges in flight at once."))
]


@flow(name=NAME, flow_run_name=pipeline_run_name("billing", "as_of"), persist_result=False)
async def subscription_billing(
    as_of: BillAsOf = None,
    catch_up: CatchUp = False,
    max_failure_rate: MaxFailureRate = None,
    rate_per_second: RatePerSecond = None,
    batch_size: BatchSize = 500,
    concurrency: ChargesInFlight = 32,
    worker_id: WorkerId = None,
) -> BillingSummary:
    """Bill every due subscription period and one-off charge exactly once, with dunning."""
    when = resolve_as_of(as_of)
    owner = worker_id or default_worker_id()
    async with payment_context(connections=concurrency):
        reconciled = await tasks.reconcile_billing(owner)
        clients = await tasks.ensure_clients()
        total = await tasks.count_due(when)
        summary = await tasks.bill_subscriptions(
            when,
            owner,
            total=total,
            batch_size=batch_size,
            concurrency=concurrency,
            catch_up=catch_up,
            rate_per_second=rate_per_second,
        )
        summary = summary.model_copy(
            update={"reconciled": summary.reconciled + reconciled, "clients_created": clients}
        )
        await tasks.publish_summary(summary)
        # No false completion: due work left unresolved, or too many failures, fail the run.
        fail_if_incomplete(summary, max_failure_rate)
        return summary
