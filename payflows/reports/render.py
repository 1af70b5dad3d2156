"""The report's outputs: CSVs (cents as integers), one self-contained HTML page, markdown.

The HTML shows amounts as currency (``R 1 234.56``), inline CSS and inline SVG charts (daily
volume, approval rate, declines by code, settlement lag), no scripts and no external assets, so
it opens anywhere, offline, and can be mailed as one file. It fits a laptop screen (1366 px):
the page has a maximum width, a count and its amount share one cell, the wide daily table is
shown as three narrower ones, and long text (ids, actions) wraps. Times are the merchant's.
Nothing here holds card data: the ledger frames carry no PAN, and every string is escaped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from payflows.domain.money import format_amount
from payflows.reports.charts import bar_chart
from payflows.reports.summaries import Summaries

__all__ = [
    "HTML_ROW_LIMIT",
    "bar_chart",
    "cell",
    "display_rows",
    "heading",
    "local_time",
    "markdown_summary",
    "write_csvs",
]

#: Rows of one table shown in the HTML page (the CSV always has every row).
HTML_ROW_LIMIT = 500


def write_csvs(summaries: Summaries, folder: Path) -> dict[str, Path]:
    """One CSV per summary (header row even when empty); returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, table in summaries.tables().items():
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False, lineterminator="\n")
        paths[name] = path
    return paths


def local_time(s: Summaries) -> str:
    """The report's ``as_of`` in the merchant's zone, to the minute."""
    return s.as_of.astimezone(s.period.tz).strftime("%Y-%m-%d %H:%M")


# -- cells ------------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def cell(column: str, value: Any, currency: str | None) -> tuple[str, bool]:
    """(text, numeric) for one table cell."""
    if _missing(value):
        return "", False
    if column.endswith("_cents") and currency:
        return format_amount(int(value), currency), True
    if column == "approval_rate":
        return f"{float(value) * 100:.1f} %", True
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int | float):
        return (f"{value:,}".replace(",", " ") if isinstance(value, int) else f"{value}"), True
    return str(value), False


def heading(column: str) -> str:
    return column.removesuffix("_cents").replace("_", " ")


def display_rows(frame: pd.DataFrame, limit: int = HTML_ROW_LIMIT) -> list[dict[str, str]]:
    """The first ``limit`` rows as text for people (amounts as currency), e.g. for artifacts.

    Every column is kept, the mismatches' ``action`` included: it is what the operator needs.
    """
    rows = []
    for record in frame.head(limit).to_dict("records"):
        currency = record.get("currency") or None
        rows.append({heading(str(c)): cell(str(c), v, currency)[0] for c, v in record.items()})
    return rows


def markdown_summary(s: Summaries, html_url: str | None = None) -> str:
    """A short markdown summary for the Prefect UI: the same figures as the page and the CSVs."""
    from payflows.reports.reconcile import ACTIONS

    p = s.period
    lines = [
        f"# Settlement report {p.date_from} to {p.date_to} ({p.timezone}, as of {local_time(s)})",
        "",
        "| currency | paid | refunded | fees | chargebacks | net | declined / refused | approval |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in s.totals.to_dict("records"):
        cur = str(row["currency"])
        rate = row["approval_rate"]
        lines.append(
            f"| {cur} | {format_amount(row['paid_cents'], cur)} ({row['paid_count']}) "
            f"| {format_amount(row['refunded_cents'], cur)} ({row['refunded_count']}) "
            f"| {format_amount(row['fee_cents'], cur)} "
            f"| {format_amount(row['chargeback_cents'], cur)} ({row['chargeback_count']}) "
            f"| {format_amount(row['net_cents'], cur)} "
            f"| {row['declined_count']} / {row['refused_count']} "
            f"| {'-' if pd.isna(rate) else f'{float(rate) * 100:.1f} %'} |"
        )
    if s.totals.empty:
        lines.append("| - | nothing in this period | | | | | | |")
    lines.append("")
    if s.extra.get("reconciled"):
        n = len(s.reconciliation)
        lines.append(
            f"**Reconciliation:** {s.extra.get('reconciled_purchases', 0)} purchases compared, "
            f"{n} mismatch{'es' if n != 1 else ''}."
        )
        if n:
            counts = s.reconciliation["mismatch"].value_counts().sort_index()
            lines.append("")
            for kind, count in counts.items():
                lines.append(f"- **{kind}** ({count}): {ACTIONS.get(str(kind), '')}")
    else:
        lines.append("**Reconciliation:** not run.")
    lines.append("")
    lines.append(f"**Open holds:** {len(s.holds)}.")
    if html_url:
        lines += ["", f"[Open the HTML report]({html_url})"]
    return "\n".join(lines) + "\n"
