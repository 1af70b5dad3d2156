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

from datetime import UTC, date, datetime

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flows._time import AsOf
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
    "ReportRequest",
    "outcome",
    "run_settlement_report",
    "settlement_report",
]

NAME = "settlement-report"
#: Every day at 00:15 in the merchant's time zone: reports the day that just ended.
DAILY_CRON = "15 0 * * *"
#: The name of the final (Failed) state of a run whose reconciliation found mismatches.
MISMATCH_STATE = "Mismatches"


class ReportRequest(BaseModel):
    """Parameters of a report run (the Prefect UI renders them as a form)."""

    model_config = ConfigDict(extra="forbid")

    date_from: date | None = Field(
        default=None, description="First day (inclusive); default: the same as date_to."
    )
    date_to: date | None = Field(
        default=None,
        description="Last day (inclusive); default: yesterday, or the day of as_of if given.",
    )
    timezone: str | None = Field(
        default=None,
        description="IANA time zone of the merchant's days; default PAYFLOWS_TIMEZONE "
        "(Africa/Johannesburg).",
    )
    as_of: AsOf = Field(
        default=None, description="The report's 'now' (open holds' hours left); default now."
    )
    reconcile: bool = Field(
        default=True, description="Compare every purchase of the period with the gateway."
    )
    track_settlement: bool = Field(
        default=True,
        description="Record the clearing/settlement the gateway reports (needs reconcile).",
    )
    output_dir: str | None = Field(
        default=None, description="Base folder; default PAYFLOWS_REPORTS_DIR (data/out/reports)."
    )
    concurrency: int = Field(default=16, ge=1, le=256, description="Read-backs in flight.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    @model_validator(mode="after")
    def _order(self) -> ReportRequest:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError("date_to is before date_from")
        return self


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


@flow(name=NAME, persist_result=False)
async def settlement_report(params: ReportRequest | None = None) -> ReportResult:
    """Summaries, settlement and reconciliation of a period, as CSVs, HTML and artifacts.

    Ends Failed (``Mismatches``) when reconciliation found any: see :func:`outcome`.
    """
    params = params or ReportRequest()
    settings = load_settings()
    timezone = params.timezone or settings.timezone
    as_of = (params.as_of or datetime.now(UTC)).astimezone(UTC)
    period = resolve_period(params.date_from, params.date_to, timezone, params.as_of)
    async with payment_context():
        readback = None
        updates = 0
        if params.reconcile:
            readback = await tasks.read_back_purchases(period, params.concurrency)
            if params.track_settlement:
                updates = await tasks.track_settlement(readback, as_of)
        summaries = await tasks.summarise_ledger(period, as_of)
        if readback is not None:
            summaries.reconciliation = await tasks.reconcile_purchases(period, readback)
            summaries.extra.update(
                reconciled=True,
                reconciled_purchases=len(readback.views),
                settlement_updates=updates,
            )
        else:
            summaries.reconciliation = empty_mismatches()
        output_dir = params.output_dir or settings.reports_dir
        base_url = tasks.report_base_url(settings, output_dir)
        result = await tasks.write_report_files(summaries, output_dir, base_url)
        await tasks.publish_report(summaries, result)
    state, lines = outcome(result)
    logger = get_run_logger()
    for line in lines:
        (logger.error if state.is_failed() else logger.info)(line)
    if state.is_failed():
        return state  # type: ignore[return-value]  # Prefect takes a returned state as final
    return result


async def run_settlement_report(params: ReportRequest | None = None) -> ReportResult:
    """Run the flow and return its result, whether it ended Completed or ``Mismatches``.

    For callers that report the outcome themselves (``payflows report`` exits 1 on mismatches,
    the business day prints them); a crash or any other failure still raises.
    """
    state = await settlement_report(params, return_state=True)
    if state.is_failed() and state.name == MISMATCH_STATE:
        failure = await state.aresult(raise_on_failure=False)
        if isinstance(failure, ReconciliationMismatches):
            return failure.result
    result = await state.aresult()
    assert isinstance(result, ReportResult)
    return result
