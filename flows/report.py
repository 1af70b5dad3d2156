"""The settlement report as a Prefect flow (``settlement-report``), scheduled daily.

Reads like the finance process: ask the gateway about every purchase of the period, record the
settlement it reports, roll the ledger into summaries, list what does not agree, write the CSVs
and the HTML page, and show the headline in the Prefect UI. Days are the merchant's calendar
days (``PAYFLOWS_TIMEZONE``); with no dates the run reports yesterday, so a daily schedule
shortly after midnight reports the day that just ended.

A report with reconciliation mismatches is not a green run: the flow run ends **Failed**, in a
state named ``Mismatches`` whose message says how many and of which kinds, with log lines
saying what to do (the same condition makes ``payflows report`` exit 1). The report's files and
artifacts are written first, so the operator has the action column of every mismatch.
:func:`run_settlement_report` runs the flow and hands back its :class:`ReportResult` either way.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from pydantic import AfterValidator, Field

from flows._empty import DATE_PATTERN, EMPTY_IS_NONE, empty_default, text_schema
from flows._fields import described
from flows._patterns import TEXT_PATTERN, optional
from flows._pipeline import AsOf, pipeline_run_name, resolve_as_of, technical
from payflows.reports import ReportResult, resolve_period
from payflows.reports.period import zone
from payflows.reports.reconcile import empty_mismatches
from payflows.settings import load_settings
from tasks import reports as tasks
from tasks.runtime import payment_context

__all__ = [
    "DAILY_CRON",
    "MISMATCH_STATE",
    "NAME",
    "ReconciliationMismatches",
    "outcome",
    "run_settlement_report",
    "settlement_report",
]

NAME = "settlement-report"
#: Every day at 00:15 in the merchant's time zone: reports the day that just ended.
DAILY_CRON = "15 0 * * *"
#: The name of the final (Failed) state of a run whose reconciliation found mismatches.
MISMATCH_STATE = "Mismatches"


def _known_zone(value: str | None) -> str | None:
    if value is not None:
        zone(value)  # a clear ValueError for a misspelt one
    return value


#: The merchant's zone of the report's days; checked before the run starts.
TimeZone = Annotated[
    str | None,
    EMPTY_IS_NONE,
    AfterValidator(_known_zone),
    text_schema(optional(TEXT_PATTERN), max_length=64),
    empty_default(),
    described(
        description="IANA time zone of the merchant's days (e.g. Africa/Johannesburg); "
        "empty: PAYFLOWS_TIMEZONE."
    ),
]
#: A day of the report's period: a text field (``2026-03-01``), empty for its default.
Day = Annotated[
    date | None, EMPTY_IS_NONE, text_schema(DATE_PATTERN, max_length=10), empty_default()
]


class ReconciliationMismatches(Exception):
    """The reason of a ``Mismatches`` run; carries the run's :class:`ReportResult`."""

    def __init__(self, message: str, result: ReportResult) -> None:
        super().__init__(message)
        self.result = result


def outcome(result: ReportResult) -> tuple[State, list[str]]:
    """The run's final state and the log lines an operator (or automation) reads."""
    period = f"{result.date_from} to {result.date_to}"
    lines = [
        f"settlement report {period} ({result.timezone}): {result.attempts} attempts, "
        f"{result.reconciled_purchases} purchases compared, {result.open_holds} holds open; "
        f"report {result.html_url}"
    ]
    if not result.mismatches:
        return Completed(message=lines[0]), lines
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.mismatches_by_kind.items()))
    message = (
        f"reconciliation found {result.mismatches} mismatch"
        f"{'es' if result.mismatches != 1 else ''} ({kinds}) for {period}: nothing was "
        "changed; follow the action column of the mismatches table"
    )
    lines.append(message)
    lines.append(
        f"what to do: open {result.html_url}#reconciliation (or reconciliation.csv in "
        f"{result.folder}); each row says what to do; re-run the report once settled"
    )
    failure = ReconciliationMismatches(message, result)
    return Failed(name=MISMATCH_STATE, message=message, data=failure), lines


@flow(
    name=NAME,
    flow_run_name=pipeline_run_name("report", "date_to", "as_of", "date_from"),
    persist_result=False,
)
async def settlement_report(
    date_from: Annotated[
        Day,
        described(description="First day reported (inclusive); empty: the same as date_to."),
    ] = None,
    date_to: Annotated[
        Day,
        described(
            description="Last day reported (inclusive); empty: yesterday, or the day of "
            "as_of when it is given."
        ),
    ] = None,
    timezone: TimeZone = None,
    reconcile: Annotated[
        bool, described(description="Compare every purchase of the period with the gateway.")
    ] = True,
    track_settlement: Annotated[
        bool,
        described(
            description="Record the clearing and settlement the gateway reports (needs reconcile)."
        ),
    ] = True,
    as_of: Annotated[
        AsOf,
        described(
            description="The report's 'now' (hours left on open holds; the day reported when "
            "no dates are given); ISO, without a zone it is UTC; empty: now."
        ),
    ] = None,
    output_dir: Annotated[
        str | None,
        Field(max_length=500),
        EMPTY_IS_NONE,
        text_schema(max_length=500),
        empty_default(),
        described(
            description=technical("base folder of the report's files; empty: PAYFLOWS_REPORTS_DIR.")
        ),
    ] = None,
    concurrency: Annotated[
        int, described(ge=1, le=256, description=technical("read-backs in flight at once."))
    ] = 16,
) -> ReportResult:
    """Summaries, settlement and reconciliation of a period, as CSVs, HTML and artifacts.

    Ends Failed (``Mismatches``) when reconciliation found any: see :func:`outcome`.
    """
    settings = load_settings()
    zone_name = timezone or settings.timezone
    when = resolve_as_of(as_of)
    period = resolve_period(date_from, date_to, zone_name, when if as_of is not None else None)
    async with payment_context():
        readback = None
        updates = 0
        if reconcile:
            readback = await tasks.read_back_purchases(period, concurrency)
            if track_settlement:
                updates = await tasks.track_settlement(readback, when)
        summaries = await tasks.summarise_ledger(period, when)
        if readback is not None:
            summaries.reconciliation = await tasks.reconcile_purchases(period, readback)
            summaries.extra.update(
                reconciled=True,
                reconciled_purchases=len(readback.views),
                settlement_updates=updates,
            )
        else:
            summaries.reconciliation = empty_mismatches()
        folder = output_dir or settings.reports_dir
        base_url = tasks.report_base_url(settings, folder)
        result = await tasks.write_report_files(summaries, folder, base_url)
        await tasks.publish_report(summaries, result)
    state, lines = outcome(result)
    logger = get_run_logger()
    for line in lines:
        (logger.error if state.is_failed() else logger.info)(line)
    if state.is_failed():
        return state  # type: ignore[return-value]  # Prefect takes a returned state as final
    return result


async def run_settlement_report(**parameters: Any) -> ReportResult:
    """Run the flow with ``parameters`` and return its result, whether it ended Completed or
    ``Mismatches``.

    For callers that report the outcome themselves (``payflows report`` exits 1 on mismatches,
    the business day prints them); a crash or any other failure still raises.
    """
    state = await settlement_report(**parameters, return_state=True)
    if state.is_failed() and state.name == MISMATCH_STATE:
        failure = await state.aresult(raise_on_failure=False)
        if isinstance(failure, ReconciliationMismatches):
            return failure.result
    result = await state.aresult()
    assert isinstance(result, ReportResult)
    return result
