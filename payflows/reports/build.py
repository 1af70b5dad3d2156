"""The steps of one report, Prefect-free: read back, record settlement, summarise, compare, write.

The flow (:mod:`flows.report`) calls these through thin tasks; :func:`run_report` runs
them in order for callers without Prefect (benchmarks, scripts). Each step is safe to repeat:
reading back and summarising change nothing, recording settlement only moves the ledger forward
along the state table, and writing replaces the period's folder contents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from payflows.gateway import PreciumClient
from payflows.reports.frame import load_frames
from payflows.reports.page import render_html
from payflows.reports.period import Period
from payflows.reports.reconcile import (
    GatewayView,
    apply_settlement,
    compare,
    empty_mismatches,
    fetch_views,
    ledger_purchases,
    settlement_moves,
    unknown_to_ledger,
)
from payflows.reports.render import write_csvs
from payflows.reports.summaries import Summaries, summarise
from payflows.settings import Settings

__all__ = [
    "CurrencyTotals",
    "Readback",
    "ReportResult",
    "build_summaries",
    "currency_totals",
    "read_back",
    "reconcile",
    "record_settlement",
    "report_base_url",
    "report_folder",
    "run_report",
    "served_path",
    "write_report",
]


class CurrencyTotals(BaseModel):
    """The headline figures of one currency (integer cents)."""

    currency: str
    authorised_count: int
    authorised_cents: int
    paid_count: int
    paid_cents: int
    #: Money given back: refunds made, less the ones cancelled before they settled.
    refunded_count: int = 0
    refunded_cents: int
    #: Refunds undone (cancelled before they settled): not in ``refunded_cents``.
    refunds_cancelled_cents: int = 0
    cancelled_cents: int
    voided_cents: int
    declined_count: int
    #: Charges the gateway refused outright (an invalid recurring token...).
    refused_count: int = 0
    fee_cents: int
    chargeback_cents: int = 0
    #: Paid less refunded, fees and chargebacks (docs/reports.md).
    net_cents: int
    settled_cents: int
    awaiting_settlement_cents: int
    approval_rate: float | None


class ReportResult(BaseModel):
    """What a report run produced: where the files are and the figures that matter most."""

    date_from: str
    date_to: str
    timezone: str
    as_of: datetime
    folder: str
    html_path: str
    html_url: str
    csv_paths: dict[str, str]
    attempts: int
    totals: list[CurrencyTotals]
    reconciled: bool
    reconciled_purchases: int = 0
    mismatches: int = 0
    mismatches_by_kind: dict[str, int] = Field(default_factory=dict)
    settlement_updates: int = 0
    open_holds: int = 0


class Readback(BaseModel):
    """The gateway's view of the period's purchases, and the ledger's expectations of them."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    ledger: pd.DataFrame
    views: list[GatewayView]


def report_folder(base: str | Path, period: Period) -> Path:
    return Path(base) / period.label


def served_path(period: Period) -> str:
    """Where the web app serves a period's HTML report (``apps.web.reports``)."""
    return f"/reports/{period.label}/report.html"


def report_base_url(settings: Settings, output_dir: str | Path) -> str | None:
    """The web app's public URL when it serves ``output_dir`` (``PAYFLOWS_REPORTS_DIR``).

    ``PAYFLOWS_PUBLIC_URL``, else the app's own host and port. None for another folder: the
    web app serves only its reports folder, so such a report is linked as a file.
    """
    if Path(output_dir).resolve() != Path(settings.reports_dir).resolve():
        return None
    url = settings.public_url or f"http://{settings.web_host}:{settings.web_port}"
    return url.rstrip("/")


async def read_back(
    gateway: PreciumClient, engine: Engine, period: Period, *, concurrency: int = 16
) -> Readback:
    """Every purchase the period touched, read from the gateway (bounded concurrency)."""
    ledger = ledger_purchases(engine, period)
    views = await fetch_views(gateway, ledger["purchase_id"].tolist(), concurrency=concurrency)
    return Readback(ledger=ledger, views=views)


def record_settlement(
    engine: Engine, readback: Readback, observed_at: datetime | None = None
) -> list[str]:
    """Record what the gateway says has cleared and settled (fee, net, times); ids changed."""
    moves, figures = settlement_moves(
        readback.ledger, readback.views, observed_at or datetime.now(UTC)
    )
    return apply_settlement(engine, moves, figures)


def reconcile(engine: Engine, period: Period, readback: Readback) -> pd.DataFrame:
    """The mismatches of the period (re-reads the ledger: settlement may just have moved)."""
    ledger = ledger_purchases(engine, period)
    return compare(ledger, readback.views, unknown_to_ledger(engine, period))


def build_summaries(engine: Engine, period: Period, as_of: datetime) -> Summaries:
    """Every summary of the period (reconciliation left empty until :func:`reconcile`)."""
    frames = load_frames(engine, period)
    summaries = summarise(frames, period, as_of)
    summaries.reconciliation = empty_mismatches()
    summaries.extra["attempts"] = len(frames.activity)
    return summaries


def currency_totals(summaries: Summaries) -> list[CurrencyTotals]:
    settled = summaries.settlement
    out = []
    for row in summaries.totals.to_dict("records"):
        cur = str(row["currency"])
        mine = settled[settled["currency"] == cur] if not settled.empty else settled
        rate = row["approval_rate"]
        out.append(
            CurrencyTotals(
                currency=cur,
                authorised_count=int(row["authorised_count"]),
                authorised_cents=int(row["authorised_cents"]),
                paid_count=int(row["paid_count"]),
                paid_cents=int(row["paid_cents"]),
                refunded_count=int(row["refunded_count"]),
                refunded_cents=int(row["refunded_cents"]),
                refunds_cancelled_cents=int(row["refunds_cancelled_cents"]),
                cancelled_cents=int(row["cancelled_cents"]),
                voided_cents=int(row["voided_cents"]),
                declined_count=int(row["declined_count"]),
                refused_count=int(row["refused_count"]),
                fee_cents=int(row["fee_cents"]),
                chargeback_cents=int(row["chargeback_cents"]),
                net_cents=int(row["net_cents"]),
                settled_cents=int(mine["settled_cents"].sum()) if not mine.empty else 0,
                awaiting_settlement_cents=(
                    int(mine["awaiting_cents"].sum()) if not mine.empty else 0
                ),
                approval_rate=None if pd.isna(rate) else float(rate),
            )
        )
    return out


def write_report(
    summaries: Summaries, base_dir: str | Path, base_url: str | None = None
) -> ReportResult:
    """Write the CSVs and ``report.html`` under ``<base_dir>/<from>_<to>/``.

    ``html_url`` is the web app's address of the page when ``base_url`` is given (see
    :func:`report_base_url`), else a ``file://`` URL.
    """
    folder = report_folder(base_dir, summaries.period).resolve()
    csvs = write_csvs(summaries, folder)
    html_path = folder / "report.html"
    html_path.write_text(render_html(summaries), encoding="utf-8")
    recon = summaries.reconciliation
    kinds = recon["mismatch"].value_counts().to_dict() if not recon.empty else {}
    p = summaries.period
    return ReportResult(
        date_from=p.date_from.isoformat(),
        date_to=p.date_to.isoformat(),
        timezone=p.timezone,
        as_of=summaries.as_of,
        folder=str(folder),
        html_path=str(html_path),
        html_url=(f"{base_url}{served_path(summaries.period)}" if base_url else html_path.as_uri()),
        csv_paths={name: str(path) for name, path in csvs.items()},
        attempts=int(summaries.extra.get("attempts", 0)),
        totals=currency_totals(summaries),
        reconciled=bool(summaries.extra.get("reconciled")),
        reconciled_purchases=int(summaries.extra.get("reconciled_purchases", 0)),
        mismatches=len(recon),
        mismatches_by_kind={str(k): int(v) for k, v in kinds.items()},
        settlement_updates=int(summaries.extra.get("settlement_updates", 0)),
        open_holds=len(summaries.holds),
    )


async def run_report(
    engine: Engine,
    period: Period,
    base_dir: str | Path,
    *,
    as_of: datetime | None = None,
    gateway: PreciumClient | None = None,
    track_settlement: bool = True,
    concurrency: int = 16,
) -> tuple[Summaries, ReportResult]:
    """Every step in order; reconciles only when a gateway client is given."""
    as_of = as_of or datetime.now(UTC)
    readback = None
    updates: list[str] = []
    if gateway is not None:
        readback = await read_back(gateway, engine, period, concurrency=concurrency)
        if track_settlement:
            updates = record_settlement(engine, readback, as_of)
    summaries = build_summaries(engine, period, as_of)
    if readback is not None:
        summaries.reconciliation = reconcile(engine, period, readback)
        summaries.extra.update(
            reconciled=True,
            reconciled_purchases=len(readback.views),
            settlement_updates=len(updates),
        )
    return summaries, write_report(summaries, base_dir)
