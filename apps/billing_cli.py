"""``payflows bill``: bill due subscriptions and one-off charges once, here.

The command is made from the ``subscription-billing`` flow (:func:`apps.pipeline_mode.
pipeline_command`): its options are the flow's parameters. It runs the flow when a Prefect
server is configured, else the core directly. Exit code 0 only when the run is complete: every
due period and one-off charge was settled (paid, or declined with dunning) and the share of
declines stayed under ``--max-failure-rate`` (default ``PAYFLOWS_MAX_FAILURE_RATE``); 1 when
something was left (named in the output, with the reason) or the threshold was passed; 2 on bad
input or when no Prefect server answers at the configured ``PREFECT_API_URL``.
"""

from __future__ import annotations

from typing import Any

from apps.pipeline_mode import parse_as_of

__all__ = [
    "BILL_HELP",
    "bill_command",
    "bill_typer_command",
    "parse_as_of",
    "print_billing_summary",
]

BILL_HELP = (
    "Charge due subscriptions and one-off charges once (MIT), with dunning; "
    "exit 1 if something was left or too many failed."
)


async def _bill_on_core(params: dict[str, Any], settings: Any) -> Any:
    """The flow's work without Prefect: reconcile, create missing clients, bill."""
    from flows._pipeline import default_worker_id, resolve_as_of
    from payflows.billing import CatchUp, DunningPolicy, bill_due, ensure_gateway_clients
    from tasks.runtime import payment_context

    async with payment_context(settings) as ctx:
        clients = await ensure_gateway_clients(ctx)
        summary = await bill_due(
            ctx,
            as_of=resolve_as_of(params["as_of"]),
            worker_id=params["worker_id"] or default_worker_id(),
            batch_size=params["batch_size"],
            concurrency=params["concurrency"],
            policy=DunningPolicy(),
            catch_up=CatchUp.CATCH_UP if params["catch_up"] else CatchUp.SKIP,
            rate_per_second=params["rate_per_second"],
        )
    summary.clients_created = clients
    return summary


def bill_command(json_out: bool = False, **options: Any) -> int:
    """Bill once (flow or core), print the summary and what was left, return the exit code.

    ``options`` are some of the flow's parameters (``as_of`` as text, as typed); the others
    take their defaults.
    """
    from apps.pipeline_mode import run_pipeline_command
    from flows.billing import subscription_billing

    return run_pipeline_command(
        subscription_billing,
        "bill",
        options,
        on_core=_bill_on_core,
        show=print_billing_summary,
        json_out=json_out,
    )


def bill_typer_command() -> Any:
    """``payflows bill``, its options made from the flow's parameters."""
    from apps.pipeline_mode import pipeline_command
    from flows.billing import subscription_billing

    return pipeline_command(
        subscription_billing,
        "bill",
        on_core=_bill_on_core,
        show=print_billing_summary,
        help_text=BILL_HELP,
    )


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
