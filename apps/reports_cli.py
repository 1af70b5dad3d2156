"""``payflows report``: run the settlement-report flow once, in this process, under its run tags.

Kept a plain function so the CLI module only has to register it. Exit code 0 when the ledger
and the gateway agree (or reconciliation was not asked for), 1 when reconciliation found
mismatches: a nightly job's failure is then visible to whoever watches it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date

__all__ = ["report_command"]


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} must be a date as YYYY-MM-DD, got {text!r}") from None


def _zone(text: str | None) -> str | None:
    from payflows.reports.period import zone

    if text is not None:
        zone(text)  # a misspelt zone: "unknown time zone ..." (ValueError)
    return text


def report_command(
    date_from: str | None = None,
    date_to: str | None = None,
    timezone: str | None = None,
    as_of: str | None = None,
    reconcile: bool = True,
    track_settlement: bool = True,
    output_dir: str | None = None,
    json_out: bool = False,
) -> int:
    """Run the ``settlement-report`` flow, print its headline, return the exit code."""
    from apps.pipeline_mode import parse_as_of
    from flows._tags import run_tags
    from flows.report import run_settlement_report, settlement_report
    from payflows.domain.money import format_amount
    from payflows.ledger.migrate import upgrade
    from payflows.reports import resolve_period
    from payflows.settings import load_settings

    # Bad input: a ValueError (one line, exit 2) before anything runs.
    parameters = {
        "date_from": _day(date_from, "--from"),
        "date_to": _day(date_to, "--to"),
        "timezone": _zone(timezone),
        "as_of": parse_as_of(as_of),
        "reconcile": reconcile,
        "track_settlement": track_settlement,
        "output_dir": output_dir,
    }
    settings = load_settings()
    resolve_period(parameters["date_from"], parameters["date_to"], timezone or settings.timezone)
    upgrade(settings.database_url)
    with run_tags(settlement_report.name):
        result = asyncio.run(run_settlement_report(**parameters))
    if json_out:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        print(
            f"settlement report {result.date_from} to {result.date_to} ({result.timezone}): "
            f"{result.attempts} attempts"
        )
        for t in result.totals:
            rate = "-" if t.approval_rate is None else f"{t.approval_rate * 100:.1f} %"
            cur = t.currency
            print(
                f"  {cur}: authorised {format_amount(t.authorised_cents, cur)} "
                f"({t.authorised_count}), paid {format_amount(t.paid_cents, cur)} "
                f"({t.paid_count}), refunded {format_amount(t.refunded_cents, cur)} "
                f"({t.refunded_count}), declined {t.declined_count}, refused "
                f"{t.refused_count}, approval {rate}"
            )
            print(
                f"  {cur}: fees {format_amount(t.fee_cents, cur)}, chargebacks "
                f"{format_amount(t.chargeback_cents, cur)}, net "
                f"{format_amount(t.net_cents, cur)}, settled "
                f"{format_amount(t.settled_cents, cur)}, awaiting settlement "
                f"{format_amount(t.awaiting_settlement_cents, cur)}"
            )
        if not result.totals:
            print("  nothing in this period")
        print(f"  open holds: {result.open_holds}")
        if result.reconciled:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.mismatches_by_kind.items()))
            print(
                f"  reconciliation: {result.reconciled_purchases} purchases, "
                f"{result.mismatches} mismatches" + (f" ({kinds})" if kinds else "")
            )
            if result.settlement_updates:
                print(f"  settlement recorded for {result.settlement_updates} purchases")
        else:
            print("  reconciliation: not run (--no-reconcile)")
        print(f"report: {result.html_path}")
        if result.html_url.startswith("http"):
            print(f"served at: {result.html_url} (web app, operator token)")
        if result.mismatches:
            print(
                f"{result.mismatches} mismatches: follow the action column of "
                f"{result.csv_paths.get('reconciliation', 'reconciliation.csv')}"
            )
    return 1 if result.mismatches else 0
