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

from datetime import UTC, datetime

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from flows._time import AsOf
from flows.billing import default_worker_id
from payflows.exactly_once import RunIncomplete
from payflows.sweep import SweepSummary
from tasks import sweep as tasks
from tasks.runtime import current_runtime, payment_context

__all__ = ["SweepRequest", "preauth_sweep"]

NAME = "preauth-sweep"


class SweepRequest(BaseModel):
    """Parameters of one sweep (the Prefect UI renders them as a form)."""

    model_config = ConfigDict(extra="forbid")

    as_of: AsOf = Field(
        default=None, description="Act on what is due at this time (default now, UTC)."
    )
    concurrency: int = Field(default=16, ge=1, le=256, description="Holds in flight at once.")
    batch_size: int = Field(default=500, ge=1, le=10_000)
    limit: int | None = Field(
        default=None, ge=1, description="At most this many holds this run (the rest: next run)."
    )
    worker_id: str | None = Field(
        default=None, max_length=128, description="Claim owner; default host:pid."
    )
    reconcile_all: bool = Field(
        default=False, description="Read back every open hold, not only the due ones."
    )
    max_failure_rate: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of items not ended as intended (declined, refused, failed or "
        "unknown) past which the run fails (default PAYFLOWS_MAX_FAILURE_RATE).",
    )


@flow(name=NAME, persist_result=False)
async def preauth_sweep(params: SweepRequest | None = None) -> SweepSummary:
    """Capture or void every due hold exactly once, before the network lets it lapse."""
    params = params or SweepRequest()
    as_of = (params.as_of or datetime.now(UTC)).astimezone(UTC)
    worker_id = params.worker_id or default_worker_id()
    async with payment_context():
        total = await tasks.count_due_holds(as_of, params.reconcile_all)
        summary = await tasks.sweep_due_holds(
            as_of,
            worker_id,
            total=total,
            concurrency=params.concurrency,
            batch_size=params.batch_size,
            limit=params.limit,
            reconcile_all=params.reconcile_all,
        )
        await tasks.publish_sweep_summary(summary)
        await tasks.alert_unresolved(summary)
        runtime = current_runtime()
        limit = params.max_failure_rate
        if limit is None and runtime is not None:
            limit = runtime.settings.max_failure_rate
        # No false completion: a hold a person must look at, or one left, fails the run.
        problem = summary.problem(limit)
        if problem:
            raise RunIncomplete(problem, summary)
        return summary
