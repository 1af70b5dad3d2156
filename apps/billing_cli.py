"""``payflows bill``: run the billing flow (subscriptions and one-off charges) once, here.

Kept a plain function so the CLI module only has to register it. Exit code 0 when every due
period was settled (paid, declined with dunning), 1 when some outcomes are still unknown (the
next run reconciles them).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

__all__ = ["bill_command", "parse_as_of"]


def parse_as_of(text: str | None) -> datetime | None:
    """``2026-02-28`` or an ISO timestamp; a naive one is taken as UTC."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def bill_command(
    as_of: str | None = None,
    json_out: bool = False,
    batch_size: int = 500,
    concurrency: int = 32,
    catch_up: bool = False,
    worker_id: str | None = None,
    rate_per_second: float | None = None,
) -> int:
    """Run the ``subscription-billing`` flow, print its summary, return the exit code."""
    from flows.billing import BillingRunRequest, subscription_billing
    from payflows.domain.money import format_amount
    from payflows.ledger.migrate import upgrade
    from payflows.settings import load_settings

    upgrade(load_settings().database_url)
    params = BillingRunRequest(
        as_of=parse_as_of(as_of),
        batch_size=batch_size,
        concurrency=concurrency,
        catch_up=catch_up,
        worker_id=worker_id,
        rate_per_second=rate_per_second,
    )
    summary = asyncio.run(subscription_billing(params))
    if json_out:
        print(json.dumps(summary.model_dump(mode="json"), indent=2))
    else:
        print(
            f"billed at {summary.as_of.isoformat()}: {summary.succeeded} paid, "
            f"{summary.declined} declined ({summary.retry_scheduled} to retry, "
            f"{summary.suspended} suspended), {summary.unknown} unknown, "
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
    return 1 if summary.unknown else 0
