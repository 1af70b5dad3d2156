"""``payflows bill``: bill due subscriptions and one-off charges once, here.

Runs the ``subscription-billing`` flow when a Prefect server is configured, else the core
directly (:mod:`apps.pipeline_mode`). Exit code 0 only when the run is complete: every due
period and one-off charge was settled (paid, or declined with dunning) and the share of
declines stayed under ``PAYFLOWS_MAX_FAILURE_RATE``; 1 when something was left (named in the
output, with the reason) or the threshold was passed; 2 when no Prefect server answers at the
configured ``PREFECT_API_URL``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["bill_command", "parse_as_of", "print_billing_summary"]


def parse_as_of(text: str | None) -> datetime | None:
    """``2026-02-28`` or an ISO timestamp; a naive one is taken as UTC.

    Raises :class:`ValueError` with a one-line message the commands print as is (exit 2).
    """
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--as-of must be a date or an ISO timestamp (2026-02-28, 2026-02-28T02:00Z), "
            f"got {text!r}"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def _bill_on_core(params: Any, settings: Any) -> Any:
    """The flow's work without Prefect: reconcile, create missing clients, bill."""
    from flows.billing import default_worker_id
    from payflows.billing import CatchUp, DunningPolicy, bill_due, ensure_gateway_clients
    from tasks.runtime import payment_context

    as_of = (params.as_of or datetime.now(UTC)).astimezone(UTC)
    async with payment_context(settings) as ctx:
        clients = await ensure_gateway_clients(ctx)
        summary = await bill_due(
            ctx,
            as_of=as_of,
            worker_id=params.worker_id or default_worker_id(),
            batch_size=params.batch_size,
            concurrency=params.concurrency,
            policy=DunningPolicy(),
            catch_up=CatchUp.CATCH_UP if params.catch_up else CatchUp.SKIP,
            rate_per_second=params.rate_per_second,
        )
    summary.clients_created = clients
    return summary


def bill_command(
    as_of: str | None = None,
    json_out: bool = False,
    batch_size: int = 500,
    concurrency: int = 32,
    catch_up: bool = False,
    worker_id: str | None = None,
    rate_per_second: float | None = None,
) -> int:
    """Bill once (flow or core), print the summary and what was left, return the exit code."""
    from apps.pipeline_mode import NoPrefectServer, prefect_api_url, run_pipeline, summary_json
    from flows.billing import BillingRunRequest
    from payflows.ledger.migrate import upgrade
    from payflows.settings import load_settings

    try:  # bad input stops here, before anything runs
        when = parse_as_of(as_of)
    except ValueError as exc:
        print(f"payflows bill: {exc}", file=sys.stderr)
        return 2
    settings = load_settings()
    try:
        server = prefect_api_url()
    except NoPrefectServer as exc:
        print(f"payflows bill: {exc}", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    params = BillingRunRequest(
        as_of=when,
        batch_size=batch_size,
        concurrency=concurrency,
        catch_up=catch_up,
        worker_id=worker_id,
        rate_per_second=rate_per_second,
    )
    summary = run_pipeline(
        server, lambda: _bill_on_core(params, settings), lambda: _subscription_billing(params)
    )
    problem = summary.problem(settings.max_failure_rate)
    if json_out:
        print(summary_json(summary, problem))
    else:
        print_billing_summary(summary)
    if problem:
        if not json_out:  # the JSON says it already ("complete", "problem")
            print(f"payflows bill: {problem}", file=sys.stderr)
        return 1
    return 0


def print_billing_summary(summary: Any) -> None:
    from payflows.domain.money import format_amount

    print(
        f"billed at {summary.as_of.isoformat()}: {summary.succeeded} paid, "
        f"{summary.declined} declined ({summary.retry_scheduled} to retry, "
        f"{summary.suspended} suspended), {summary.failed} refused, {summary.unknown} unknown, "
        f"{summary.reconciled} reconciled, {summary.resent} re-charged on the same purchase, "
        f"in {summary.seconds:.1f}s"
    )
    for currency, cents in sorted(summary.amounts_cents.items()):
        print(f"  paid {format_amount(cents, currency)}")
    if summary.one_off_claimed:
        print(
            f"  of which one-off charges: {summary.one_off_succeeded} paid, "
            f"{summary.one_off_declined} declined ({summary.one_off_retry_scheduled} to "
            f"retry), {summary.one_off_failed} failed"
        )
        for currency, cents in sorted(summary.one_off_amounts_cents.items()):
            print(f"  one-off paid {format_amount(cents, currency)}")
    for code, n in sorted(summary.declines_by_code.items()):
        print(f"  declined {code}: {n}")
    for reason, n in sorted(summary.dunning_reasons.items()):
        print(f"  {reason}: {n}")
    for reason, n in sorted(summary.left.items()):
        print(f"  LEFT {n}: {reason}")
    for item in summary.left_items[:20]:
        print(f"    {item}")


async def _subscription_billing(params: Any) -> Any:
    """The Prefect flow, imported only when a server runs it."""
    from flows.billing import subscription_billing

    return await subscription_billing(params)
