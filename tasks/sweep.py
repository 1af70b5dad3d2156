"""Prefect tasks of the pre-authorisation sweep: count, sweep, report, alert.

The sweep itself is one task around :func:`payflows.sweep.sweep_holds`, not a task per hold:
Prefect costs milliseconds and tens of kilobytes per task run, and the sweep already bounds its
concurrency toward the gateway. Retrying the task is safe: every action is exactly-once on the
ledger's business keys (``capture:<purchase>``, ``void:<purchase>``) and a restart under the same
worker id takes its claims back.

Holds the sweep could not resolve become a ``payflows.hold.unresolved`` Prefect event each (on
resource ``payflows.hold.<purchase id>``, for automations: page someone, open a ticket) and a
table artifact ``preauth-sweep-unresolved``, so a person sees them in the UI.
"""

from __future__ import annotations

import logging
from datetime import datetime

from prefect import task
from prefect.artifacts import (
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from payflows.domain.money import format_amount
from payflows.sweep import SweepSummary, sweep_holds, windows_from_settings
from payflows.sweep import count_due as _count_due
from tasks.progress import progress_reporter
from tasks.runtime import current_runtime, payment_context

__all__ = [
    "UNRESOLVED_ARTIFACT",
    "UNRESOLVED_EVENT",
    "alert_unresolved",
    "count_due_holds",
    "publish_sweep_summary",
    "summary_rows",
    "sweep_due_holds",
    "unresolved_rows",
]

UNRESOLVED_EVENT = "payflows.hold.unresolved"
UNRESOLVED_ARTIFACT = "preauth-sweep-unresolved"
SUMMARY_ARTIFACT = "preauth-sweep-summary"
_OPTIONS = {"persist_result": False, "cache_policy": NO_CACHE}
_log = logging.getLogger("payflows.sweep")


@task(name="count-due-holds", **_OPTIONS)
async def count_due_holds(as_of: datetime, reconcile_all: bool = False) -> int:
    """How many holds the sweep at ``as_of`` selects (the progress bar's 100 %)."""
    async with payment_context() as ctx:
        runtime = current_runtime()
        windows = windows_from_settings(runtime.settings) if runtime else ctx.windows
        return await ctx.ledger(
            lambda uow: _count_due(uow.engine, as_of, windows, reconcile_all=reconcile_all)
        )


@task(name="sweep-due-holds", retries=1, retry_delay_seconds=5, **_OPTIONS)
async def sweep_due_holds(
    as_of: datetime,
    worker_id: str,
    *,
    total: int,
    concurrency: int = 16,
    batch_size: int = 500,
    limit: int | None = None,
    reconcile_all: bool = False,
) -> SweepSummary:
    """Capture, void, reconcile and record every due hold, with a progress artifact."""
    report = await progress_reporter(
        "preauth-sweep-progress", f"Sweep at {as_of.isoformat()}", total, lambda s: s.selected
    )

    async with payment_context(connections=concurrency) as ctx:
        runtime = current_runtime()
        assert runtime is not None
        settings = runtime.settings
        return await sweep_holds(
            ctx,
            as_of=as_of,
            worker_id=worker_id,
            windows=windows_from_settings(settings),
            default_policy=settings.hold_default_policy,
            concurrency=concurrency,
            batch_size=batch_size,
            limit=limit,
            reconcile_all=reconcile_all,
            on_progress=report,
        )


def summary_rows(summary: SweepSummary) -> list[dict[str, str]]:
    """The summary as table rows: counts, then amounts per currency."""
    rows = [
        {"item": name, "value": str(getattr(summary, name))}
        for name in (
            "selected",
            "captured",
            "partially_captured",
            "voided",
            "reconciled",
            "expired",
            "alerted",
            "unknown",
            "failed",
        )
    ]
    rows += [
        {"item": f"captured {cur}", "value": format_amount(cents, cur)}
        for cur, cents in sorted(summary.captured_cents.items())
    ]
    rows += [
        {"item": f"released {cur}", "value": format_amount(cents, cur)}
        for cur, cents in sorted(summary.released_cents.items())
    ]
    rows += [
        {"item": f"LEFT: {reason}", "value": str(n)} for reason, n in sorted(summary.left.items())
    ]
    rows.append({"item": "seconds", "value": f"{summary.seconds:.1f}"})
    return rows


def unresolved_rows(summary: SweepSummary) -> list[dict[str, str]]:
    return [
        {
            "purchase_id": u.purchase_id,
            "action": u.action,
            "reason": u.reason,
            "brand": u.brand or "",
            "amount": format_amount(u.amount_cents, u.currency),
            "deadline": u.expires_at.isoformat(),
        }
        for u in summary.unresolved
    ]


@task(name="publish-sweep-summary", **_OPTIONS)
async def publish_sweep_summary(summary: SweepSummary) -> None:
    await create_table_artifact(
        key=SUMMARY_ARTIFACT,
        table=summary_rows(summary),
        description=f"Pre-authorisation sweep at {summary.as_of.isoformat()}",
    )


@task(name="alert-unresolved-holds", **_OPTIONS)
async def alert_unresolved(summary: SweepSummary) -> int:
    """One event per unresolved hold, and the table of them; returns how many."""
    if not summary.unresolved:
        return 0
    await create_table_artifact(
        key=UNRESOLVED_ARTIFACT,
        table=unresolved_rows(summary),
        description=(
            f"{summary.unresolved_count} hold(s) the sweep at {summary.as_of.isoformat()} "
            "could not resolve: decide them (payflows holds decide) before their deadline"
        ),
    )
    for u in summary.unresolved:
        try:
            emit_event(
                event=UNRESOLVED_EVENT,
                resource={
                    "prefect.resource.id": f"payflows.hold.{u.purchase_id}",
                    "prefect.resource.name": u.purchase_id,
                },
                payload={
                    "action": u.action,
                    "reason": u.reason,
                    "brand": u.brand,
                    "amount_cents": u.amount_cents,
                    "currency": u.currency,
                    "deadline": u.expires_at.isoformat(),
                    "as_of": summary.as_of.isoformat(),
                },
            )
        except Exception as exc:  # pragma: no cover - depends on the Prefect API
            _log.warning("could not emit %s for %s: %s", UNRESOLVED_EVENT, u.purchase_id, exc)
    return len(summary.unresolved)
