"""Settlement reports and reconciliation: the ledger rolled into pandas summaries.

Prefect-free. :mod:`~payflows.reports.frame` reads the ledger into compact frames,
:mod:`~payflows.reports.summaries` computes every figure in integer cents,
:mod:`~payflows.reports.reconcile` compares the period's purchases with the gateway (listing
mismatches, fixing none), :mod:`~payflows.reports.render` writes the CSVs, the HTML page and
the markdown summary, and :mod:`~payflows.reports.build` strings the steps together. The
``settlement-report`` flow (:mod:`flows.report`) runs them as Prefect tasks.
"""

from payflows.reports.build import (
    CurrencyTotals,
    Readback,
    ReportResult,
    build_summaries,
    read_back,
    reconcile,
    record_settlement,
    report_base_url,
    report_folder,
    run_report,
    served_path,
    write_report,
)
from payflows.reports.page import render_html
from payflows.reports.period import DEFAULT_TIMEZONE, Period, resolve_period
from payflows.reports.reconcile import ACTIONS, GatewayView, compare
from payflows.reports.render import markdown_summary
from payflows.reports.summaries import Summaries, summarise

__all__ = [
    "ACTIONS",
    "DEFAULT_TIMEZONE",
    "CurrencyTotals",
    "GatewayView",
    "Period",
    "Readback",
    "ReportResult",
    "Summaries",
    "build_summaries",
    "compare",
    "markdown_summary",
    "read_back",
    "reconcile",
    "record_settlement",
    "render_html",
    "report_base_url",
    "report_folder",
    "resolve_period",
    "run_report",
    "served_path",
    "summarise",
    "write_report",
]
