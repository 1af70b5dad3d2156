"""The pre-authorisation expiry sweep as a Prefect flow (``preauth-sweep``), scheduled hourly.

Reads like the business process: count what is due, capture or void each due hold once (reading
each back first, so holds changed elsewhere are reconciled, not acted on), show the summary, and
raise an event per hold a person must look at. A sweep that leaves any due hold unresolved
(alerted, expired, unknown, refused, or held by a sweep that did not finish) ends Failed with a
message saying so (:class:`~payflows.exactly_once.RunIncomplete`, carrying the summary). The
exactly-once work lives in :mod:`payflows.sweep`; running the flow twice, or two at once, acts
on each hold once.
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
from payflows.sweep import SweepSummary
from tasks import sweep as tasks
from tasks.runtime import payment_context

__all__ = ["preauth_sweep"]

NAME = "preauth-sweep"


@flow(name=NAME, flow_run_name=pipeline_run_name("sweep", "as_of"), persist_result=False)
async def preauth_sweep(
    as_of: Annotated[
        AsOf,
        described(
            description="Act on the holds due at this time (ISO; without a zone it is UTC); "
            "empty: now."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        described(ge=1, description="At most this many holds this run (the rest: the next run)."),
    ] = None,
    reconcile_all: Annotated[
        bool, described(description="Also read back every open hold that is not due yet.")
    ] = False,
    max_failure_rate: MaxFailureRate = None,
    concurrency: Annotated[
        int, described(ge=1, le=256, description=technical("gateway calls in flight at once."))
    ] = 16,
    batch_size: Annotated[
        int, described(ge=1, le=10_000, description=technical("holds claimed per batch."))
    ] = 500,
    worker_id: WorkerId = None,
) -> SweepSummary:
    """Capture or void every due hold exactly once, before the network lets it lapse."""
    when = resolve_as_of(as_of)
    owner = worker_id or default_worker_id()
    async with payment_context(connections=concurrency):
        total = await tasks.count_due_holds(when, reconcile_all)
        summary = await tasks.sweep_due_holds(
            when,
            owner,
            total=total,
            concurrency=concurrency,
            batch_size=batch_size,
            limit=limit,
            reconcile_all=reconcile_all,
        )
        await tasks.publish_sweep_summary(summary)
        await tasks.alert_unresolved(summary)
        # No false completion: a hold a person must look at, or one left, fails the run.
        fail_if_incomplete(summary, max_failure_rate)
        return summary
