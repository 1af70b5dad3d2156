"""The nightly subscription billing run as a Prefect flow (``subscription-billing``).

Reads like the business process: settle what a crash left in flight, bill every due period
and every due one-off charge once, show the summary. A run that could not resolve due work, or
whose share of declines and refusals passed ``PAYFLOWS_MAX_FAILURE_RATE``, ends Failed with a
message naming what was left (:class:`~payflows.exactly_once.RunIncomplete`, which carries the
summary): it never reports success over work it left. The exactly-once work lives in
:mod:`payflows.billing`; running the flow twice (or two of them at once) bills each
subscription period and each one-off charge once.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from flows._time import AsOf
from payflows.billing import BillingSummary
from payflows.exactly_once import RunIncomplete
from tasks import billing as tasks
from tasks.runtime import current_runtime, payment_context

__all__ = ["BillingRunRequest", "default_worker_id", "subscription_billing"]

NAME = "subscription-billing"


def default_worker_id() -> str:
    """This process, once: ``host:pid:random``. Never reused, so a run started after one that
    was killed never mistakes the dead run's claims for its own; it takes them over when their
    short lease lapses (the dead run's heartbeat stopped)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class BillingRunRequest(BaseModel):
    """Parameters of a billing run (the Prefect UI renders them as a form)."""

    model_config = ConfigDict(extra="forbid")

    as_of: AsOf = Field(default=None, description="Bill what is due by then (now).")
    batch_size: int = Field(default=500, ge=1, le=10_000)
    concurrency: int = Field(default=32, ge=1, le=512)
    worker_id: str | None = Field(
        default=None, max_length=128, description="Lease owner; default host:pid."
    )
    catch_up: bool = Field(
        default=False, description="Bill every missed period (one per run) instead of the latest."
    )
    rate_per_second: float | None = Field(
        default=None, gt=0, description="Cap on gateway calls per second."
    )
    max_failure_rate: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of items not ended as intended (declined, refused, failed or "
        "unknown) past which the run fails (default PAYFLOWS_MAX_FAILURE_RATE).",
    )


@flow(name=NAME, persist_result=False)
async def subscription_billing(params: BillingRunRequest | None = None) -> BillingSummary:
    """Bill every due subscription period and one-off charge exactly once, with dunning."""
    params = params or BillingRunRequest()
    as_of = (params.as_of or datetime.now(UTC)).astimezone(UTC)
    worker_id = params.worker_id or default_worker_id()
    async with payment_context():
        reconciled = await tasks.reconcile_billing(worker_id)
        clients = await tasks.ensure_clients()
        total = await tasks.count_due(as_of)
        summary = await tasks.bill_subscriptions(
            as_of,
            worker_id,
            total=total,
            batch_size=params.batch_size,
            concurrency=params.concurrency,
            catch_up=params.catch_up,
            rate_per_second=params.rate_per_second,
        )
        summary = summary.model_copy(
            update={"reconciled": summary.reconciled + reconciled, "clients_created": clients}
        )
        await tasks.publish_summary(summary)
        runtime = current_runtime()
        limit = params.max_failure_rate
        if limit is None and runtime is not None:
            limit = runtime.settings.max_failure_rate
        # No false completion: due work left unresolved, or too many failures, fail the run.
        problem = summary.problem(limit)
        if problem:
            raise RunIncomplete(problem, summary)
        return summary
