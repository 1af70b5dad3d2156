"""The settlement report as a Prefect flow (``settlement-report``), scheduled daily.

Reads like the finance process: ask the gateway about every purchase of the period, record the
settlement it reports, roll the ledger into summaries, list what does not agree, write the CSVs
and the HTML page, and show the headline in the Prefect UI. Days are the merchant's calendar
days (``PAYFLOWS_TIMEZONE``); with no dates the run reports yesterday, so a daily schedule
shortly after midnight reports the day that just ended.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from payflows.reports import ReportResult, resolve_period
from payflows.reports.period import zone
from payflows.reports.reconcile import empty_mismatches
from payflows.settings import load_settings
from tasks import reports as tasks
from tasks.runtime import payment_context

__all__ = ["DAILY_CRON", "NAME", "ReportRequest", "settlement_report"]

NAME = "settlement-report"
#: Every day at 00:15 in the merchant's time zone: reports the day that just ended.
DAILY_CRON = "15 0 * * *"


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
    as_of: datetime | None = Field(
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


@flow(name=NAME, persist_result=False)
async def settlement_report(params: ReportRequest | None = None) -> ReportResult:
    """Summaries, settlement and reconciliation of a period, as CSVs, HTML and artifacts."""
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
        result = await tasks.write_report_files(
            summaries, params.output_dir or settings.reports_dir
        )
        await tasks.publish_report(summaries, result)
        return result
