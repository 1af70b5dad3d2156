"""Prefect tasks of the billing run: count what is due, reconcile, bill, report.

Subscription periods and one-off charges are billed by the same task (and counted together).

The charging itself is one task around :func:`payflows.billing.bill_due`, not a task per
charge or per batch: Prefect costs milliseconds and tens of kilobytes per task run, and a chain
of batch tasks drains the gateway pipeline at every boundary. Progress reaches the UI through a
progress artifact updated at most once a second. Retrying the task is safe: the billing run is
idempotent on subscription + period, and a restart under the same worker id takes its leases
back.
"""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.artifacts import (
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from sqlalchemy import func, or_, select

from payflows.billing import (
    BillingSummary,
    CatchUp,
    DunningPolicy,
    bill_due,
    ensure_gateway_clients,
)
from payflows.billing import reconcile as _reconcile
from payflows.billing.one_off import due_one_offs
from payflows.domain.money import format_amount
from payflows.ledger import Subscription, SubscriptionStatus, UnitOfWork
from tasks.progress import progress_reporter
from tasks.runtime import RETRY_POLICY, payment_context

__all__ = [
    "bill_subscriptions",
    "count_due",
    "ensure_clients",
    "publish_summary",
    "reconcile_billing",
]

_OPTIONS = {"persist_result": False, "cache_policy": NO_CACHE}


@task(name="count-due-subscriptions", **_OPTIONS)
async def count_due(as_of: datetime) -> int:
    """How many subscriptions and one-off charges are due at ``as_of`` (the progress bar's
    100 %)."""
    async with payment_context() as ctx:

        def count(uow: UnitOfWork) -> int:
            one_offs = uow.session.exec(
                select(func.count()).select_from(due_one_offs(as_of, as_of).subquery())
            ).one()[0]
            return (
                one_offs
                + uow.session.exec(
                    select(func.count())
                    .select_from(Subscription)
                    .where(
                        Subscription.status.in_(  # type: ignore[attr-defined]
                            [SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]
                        ),
                        Subscription.next_billing_at <= as_of,
                        or_(Subscription.retry_at.is_(None), Subscription.retry_at <= as_of),  # type: ignore[union-attr]
                    )
                ).one()[0]
            )

        return int(await ctx.ledger(count))


@task(name="reconcile-billing", **RETRY_POLICY, **_OPTIONS)
async def reconcile_billing(worker_id: str) -> int:
    """Settle by read-back the MIT attempts a crashed run left in flight."""
    async with payment_context() as ctx:
        return await _reconcile(ctx, worker_id=worker_id)


@task(name="ensure-gateway-clients", **RETRY_POLICY, **_OPTIONS)
async def ensure_clients() -> int:
    """Create the gateway clients imported customers lack, so their charges can be made."""
    async with payment_context() as ctx:
        return await ensure_gateway_clients(ctx)


@task(name="bill-due-subscriptions", retries=1, retry_delay_seconds=5, **_OPTIONS)
async def bill_subscriptions(
    as_of: datetime,
    worker_id: str,
    *,
    total: int,
    batch_size: int = 500,
    concurrency: int = 32,
    catch_up: bool = False,
    rate_per_second: float | None = None,
) -> BillingSummary:
    """Claim, charge and record every due period, with a progress artifact for the UI."""
    report = await progress_reporter(
        "billing-progress",
        f"Billing run at {as_of.isoformat()}",
        total,
        lambda s: s.settled + s.unknown,
    )

    async with payment_context(connections=concurrency) as ctx:
        return await bill_due(
            ctx,
            as_of=as_of,
            worker_id=worker_id,
            batch_size=batch_size,
            concurrency=concurrency,
            policy=DunningPolicy(),
            catch_up=CatchUp.CATCH_UP if catch_up else CatchUp.SKIP,
            rate_per_second=rate_per_second,
            reconcile_first=False,
            on_progress=report,
        )


def summary_rows(summary: BillingSummary) -> list[dict[str, str]]:
    """The summary as table rows: counts, amounts per currency, declines per code."""
    rows = [
        {"item": name, "value": str(getattr(summary, name))}
        for name in (
            "claimed",
            "charged",
            "succeeded",
            "declined",
            "unknown",
            "failed",
            "retry_scheduled",
            "suspended",
            "skipped_periods",
            "reconciled",
            "clients_created",
            "one_off_claimed",
            "one_off_succeeded",
            "one_off_declined",
            "one_off_retry_scheduled",
            "one_off_failed",
            "resent",
        )
    ]
    rows += [
        {"item": f"paid {currency}", "value": format_amount(cents, currency)}
        for currency, cents in sorted(summary.amounts_cents.items())
    ]
    rows += [
        {"item": f"one-off paid {currency}", "value": format_amount(cents, currency)}
        for currency, cents in sorted(summary.one_off_amounts_cents.items())
    ]
    rows += [
        {"item": f"declined {code}", "value": str(n)}
        for code, n in sorted(summary.declines_by_code.items())
    ]
    rows += [
        {"item": f"dunning: {reason}", "value": str(n)}
        for reason, n in sorted(summary.dunning_reasons.items())
    ]
    rows += [
        {"item": f"LEFT: {reason}", "value": str(n)} for reason, n in sorted(summary.left.items())
    ]
    rows.append({"item": "seconds", "value": f"{summary.seconds:.1f}"})
    return rows


@task(name="publish-billing-summary", **_OPTIONS)
async def publish_summary(summary: BillingSummary) -> None:
    await create_table_artifact(
        key="billing-summary",
        table=summary_rows(summary),
        description=f"Billing run at {summary.as_of.isoformat()} by {summary.worker_id}",
    )
