"""Prefect tasks of the settlement report: read back, record settlement, summarise, publish.

Each task is one batch step over the Prefect-free core in :mod:`payflows.reports`: the period's
purchases are read back in one task with bounded concurrency (not a task per purchase: Prefect
costs milliseconds and tens of kilobytes per task run). Only :func:`track_settlement` writes the
ledger, and only the settlement the gateway reports (see :mod:`payflows.reports.reconcile`).
Results are not persisted: they hold frames, and the report's files are the record.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from payflows.reports import (
    Period,
    Readback,
    ReportResult,
    Summaries,
    build_summaries,
    markdown_summary,
    read_back,
    reconcile,
    record_settlement,
    report_base_url,
    write_report,
)
from payflows.reports.render import display_rows
from tasks.runtime import payment_context

__all__ = [
    "artifact_key",
    "publish_report",
    "read_back_purchases",
    "reconcile_purchases",
    "report_base_url",
    "summarise_ledger",
    "track_settlement",
    "write_report_files",
]

_OPTIONS = {"persist_result": False, "cache_policy": NO_CACHE}
#: Rows per table artifact: the UI is for a glance, the CSV for everything.
ARTIFACT_ROWS = 200


@task(name="read-back-purchases", **_OPTIONS)
async def read_back_purchases(period: Period, concurrency: int = 16) -> Readback:
    """Every purchase the period touched, as the gateway reports it now."""
    async with payment_context() as ctx:
        return await read_back(ctx.gateway, ctx.engine, period, concurrency=concurrency)


@task(name="track-settlement", **_OPTIONS)
async def track_settlement(readback: Readback, as_of: datetime) -> int:
    """Record the clearing and settlement the gateway reports (the report's one write)."""
    async with payment_context() as ctx:
        changed = await asyncio.to_thread(record_settlement, ctx.engine, readback, as_of)
        return len(changed)


@task(name="summarise-ledger", **_OPTIONS)
async def summarise_ledger(period: Period, as_of: datetime) -> Summaries:
    async with payment_context() as ctx:
        return await asyncio.to_thread(build_summaries, ctx.engine, period, as_of)


@task(name="reconcile-purchases", **_OPTIONS)
async def reconcile_purchases(period: Period, readback: Readback) -> pd.DataFrame:
    """The mismatches between ledger and gateway; changes nothing."""
    async with payment_context() as ctx:
        return await asyncio.to_thread(reconcile, ctx.engine, period, readback)


@task(name="write-report-files", **_OPTIONS)
async def write_report_files(
    summaries: Summaries, output_dir: str, base_url: str | None = None
) -> ReportResult:
    return await asyncio.to_thread(write_report, summaries, Path(output_dir), base_url)


def artifact_key(result: ReportResult, name: str) -> str:
    """``settlement-report-2026-12-01-summary`` (a range: ``...-2026-12-01-to-2026-12-07-...``).

    One key per period: the next day's run adds to its own key and never replaces this one
    (Prefect keeps every version of a key; the latest is what the Artifacts page shows).
    """
    days = result.date_from
    if result.date_to != result.date_from:
        days += f"-to-{result.date_to}"
    return f"settlement-report-{days}-{name}"


def _nothing(name: str, summaries: Summaries) -> str:
    if name == "mismatches":
        if not summaries.extra.get("reconciled"):
            return "reconciliation not run"
        n = int(summaries.extra.get("reconciled_purchases", 0))
        return f"all {n} purchases compared match the gateway" if n else "no purchase to compare"
    if name == "holds":
        return "no hold is open"
    return "nothing in this period"


@task(name="publish-report", **_OPTIONS)
async def publish_report(summaries: Summaries, result: ReportResult) -> None:
    """Markdown summary, tables and a link to the HTML report in the Prefect UI."""
    period = f"{result.date_from} to {result.date_to}"
    await create_markdown_artifact(
        key=artifact_key(result, "summary"),
        markdown=markdown_summary(summaries, result.html_url),
        description=f"Settlement report {period}",
    )
    for name, table in (
        ("totals", summaries.totals),
        ("daily", summaries.daily),
        ("declines", summaries.declines),
        ("settlement", summaries.settlement),
        ("holds", summaries.holds),
        ("mismatches", summaries.reconciliation),
    ):
        rows = display_rows(table, ARTIFACT_ROWS)
        await create_table_artifact(
            key=artifact_key(result, name),
            table=rows or [{"": _nothing(name, summaries)}],
            description=f"{name} {period}"
            + (f" (first {ARTIFACT_ROWS} of {len(table)})" if len(table) > ARTIFACT_ROWS else ""),
        )
    await create_link_artifact(
        key=artifact_key(result, "html"),
        link=result.html_url,
        link_text=f"Settlement report {period} (HTML)",
        description=result.html_path,
    )
