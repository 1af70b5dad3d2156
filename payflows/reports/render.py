"""The report's outputs: a CSV per summary, one self-contained HTML page, a markdown summary.

CSVs keep amounts as integer cents (``*_cents`` columns), exact and easy to sum again. The HTML
page is for people: amounts as currency (``R 1 234.56``), inline CSS and inline SVG charts (daily
volume, approval rate, declines by code, settlement lag), no scripts and no external assets, so
it opens anywhere, offline, and can be mailed as one file. Nothing here holds card data: the
ledger frames carry no PAN, and every string is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from payflows.domain.money import format_amount
from payflows.reports.summaries import Summaries

__all__ = [
    "HTML_ROW_LIMIT",
    "bar_chart",
    "display_rows",
    "markdown_summary",
    "render_html",
    "write_csvs",
]

#: Rows of one table shown in the HTML page (the CSV always has every row).
HTML_ROW_LIMIT = 500

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem;color:#1f2933}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #d9e2ec;padding-bottom:.3rem}
.muted{color:#627d98;font-size:.9rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #d9e2ec;border-radius:6px;padding:.6rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.1rem}.card span{color:#627d98;font-size:.8rem}
.bad b{color:#b42318}
table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0}
th,td{border:1px solid #d9e2ec;padding:.25rem .5rem;text-align:left;white-space:nowrap}
th{background:#f0f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
svg text{font-family:inherit;font-size:10px;fill:#334e68}
"""


def write_csvs(summaries: Summaries, folder: Path) -> dict[str, Path]:
    """One CSV per summary (header row even when empty); returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, table in summaries.tables().items():
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False, lineterminator="\n")
        paths[name] = path
    return paths


# -- formatting -------------------------------------------------------------------------------


def _cell(column: str, value: Any, currency: str | None) -> tuple[str, bool]:
    """(text, numeric) for one table cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
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


def display_rows(frame: pd.DataFrame, limit: int = HTML_ROW_LIMIT) -> list[dict[str, str]]:
    """The first ``limit`` rows as text for people (amounts as currency), e.g. for artifacts."""
    rows = []
    for record in frame.head(limit).to_dict("records"):
        currency = record.get("currency") or None
        rows.append(
            {
                _heading(str(c)): _cell(str(c), v, currency)[0]
                for c, v in record.items()
                if c != "action"
            }
        )
    return rows


def _heading(column: str) -> str:
    label = column.removesuffix("_cents").replace("_", " ")
    return label


def _table(frame: pd.DataFrame, *, limit: int = HTML_ROW_LIMIT) -> str:
    if frame.empty:
        return '<p class="muted">Nothing in this period.</p>'
    head = "".join(f"<th>{html.escape(_heading(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.head(limit).to_dict("records"):
        currency = record.get("currency") or None
        cells = []
        for column, value in record.items():
            text, numeric = _cell(str(column), value, currency)
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(frame) > limit:
        more = f'<p class="muted">First {limit} of {len(frame)} rows; the CSV has them all.</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = 560,
    height: int = 220,
    max_value: float | None = None,
) -> str:
    """A labelled vertical bar chart as inline SVG (no script, no external asset)."""
    title_e = html.escape(title)
    if not labels:
        return (
            f'<svg width="{width}" height="60" role="img" aria-label="{title_e}">'
            f'<text x="0" y="14" font-weight="bold">{title_e}</text>'
            f'<text x="0" y="40">no data</text></svg>'
        )
    top, bottom, left = 24, 42, 8
    plot_h = height - top - bottom
    n = len(labels)
    slot = (width - left * 2) / n
    bar_w = max(2.0, slot * 0.7)
    peak = max_value if max_value is not None else max(max(values), 0) or 1
    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{title_e}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" font-weight="bold">{title_e}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - left}" y2="{top + plot_h}" '
        f'stroke="#9fb3c8"/>',
    ]
    step = max(1, math.ceil(n / 16))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = 0.0 if peak <= 0 else plot_h * max(value, 0) / peak
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        tip = html.escape(f"{label}: {fmt(value)}")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="#2f80ed"><title>{tip}</title></rect>'
        )
        if n <= 16:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{max(y - 3, top + 8):.1f}" '
                f'text-anchor="middle">{html.escape(fmt(value))}</text>'
            )
        if i % step == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" '
                f'text-anchor="middle">{html.escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _charts(s: Summaries) -> str:
    days = [d.isoformat() for d in s.period.days]
    charts: list[str] = []
    daily = s.daily
    currencies = sorted(daily["currency"].unique()) if not daily.empty else []
    for currency in currencies or ["ZAR"]:
        mine = daily[daily["currency"] == currency] if not daily.empty else daily
        by_day = mine.groupby("day")["paid_cents"].sum() if not mine.empty else pd.Series()
        values = [float(by_day.get(d, 0)) for d in days]
        charts.append(
            bar_chart(
                f"Daily volume paid ({currency})",
                days,
                values,
                fmt=lambda v, c=currency: format_amount(int(v), c),
            )
        )
    if not daily.empty:
        decided = daily.groupby("day")[["authorised_count", "declined_count"]].sum()
    else:
        decided = pd.DataFrame(columns=["authorised_count", "declined_count"])
    rates: list[float] = []
    for d in days:
        if d in decided.index:
            ok, no = decided.loc[d, "authorised_count"], decided.loc[d, "declined_count"]
            rates.append(100.0 * ok / (ok + no) if ok + no else 0.0)
        else:
            rates.append(0.0)
    charts.append(
        bar_chart("Approval rate (%)", days, rates, fmt=lambda v: f"{v:.0f}%", max_value=100)
    )
    declines = s.declines
    if not declines.empty:
        by_code = declines.groupby("decline_code")["declined_count"].sum().sort_values()
        charts.append(
            bar_chart(
                "Declines by code",
                [str(c) for c in by_code.index[::-1]],
                [float(v) for v in by_code.to_numpy()[::-1]],
                fmt=lambda v: f"{int(v)}",
            )
        )
    else:
        charts.append(bar_chart("Declines by code", [], []))
    lag = s.settlement_lag
    if not lag.empty:
        by_lag = lag.groupby("lag_days")["settled_count"].sum()
        charts.append(
            bar_chart(
                "Settlement lag (days from payment to settlement)",
                [f"{int(d)} d" for d in by_lag.index],
                [float(v) for v in by_lag.to_numpy()],
                fmt=lambda v: f"{int(v)}",
            )
        )
    else:
        charts.append(bar_chart("Settlement lag (days from payment to settlement)", [], []))
    return '<div class="charts">' + "".join(charts) + "</div>"


def _headline_cards(s: Summaries) -> str:
    cards: list[str] = []

    def card(label: str, value: str, bad: bool = False) -> None:
        cls = "card bad" if bad else "card"
        cards.append(
            f'<div class="{cls}"><b>{html.escape(value)}</b><span>{html.escape(label)}</span></div>'
        )

    totals = s.totals
    if totals.empty:
        card("payments in the period", "0")
    for row in totals.to_dict("records"):
        cur = str(row["currency"])
        card(f"authorised ({row['authorised_count']})", format_amount(row["authorised_cents"], cur))
        card(f"paid ({row['paid_count']})", format_amount(row["paid_cents"], cur))
        card(f"refunded ({row['refunded_count']})", format_amount(row["refunded_cents"], cur))
        card("fees", format_amount(row["fee_cents"], cur))
        card("net", format_amount(row["net_cents"], cur))
        rate = row["approval_rate"]
        card(
            f"approval rate {cur}",
            "-" if rate is None or pd.isna(rate) else f"{float(rate) * 100:.1f} %",
        )
    settled = s.settlement
    if not settled.empty:
        for cur, part in settled.groupby("currency"):
            card("settled", format_amount(int(part["settled_cents"].sum()), str(cur)))
            card("awaiting settlement", format_amount(int(part["awaiting_cents"].sum()), str(cur)))
    mismatches = len(s.reconciliation)
    if s.extra.get("reconciled"):
        card("reconciliation mismatches", str(mismatches), bad=mismatches > 0)
    return '<div class="cards">' + "".join(cards) + "</div>"


_SECTIONS: list[tuple[str, str, str]] = [
    ("totals", "Totals per currency", "Every figure of the period, summed per currency."),
    (
        "daily",
        "Per day, currency, card brand and scenario",
        "Counts and amounts of attempts made that day (merchant's time zone).",
    ),
    ("declines", "Declines by code", "Declined payment attempts per decline code."),
    (
        "settlement",
        "Settlement",
        "Money paid in the period by the day it was paid: settled, awaiting settlement, or "
        "closed before settling (cancelled, refunded in full, charged back).",
    ),
    ("settlement_lag", "Settlement lag", "Settled payments by whole days from paid to settled."),
    ("refunds", "Refunds", "Refunds recorded in the period, by status."),
    ("holds", "Open holds", "Authorisations still open now, soonest deadline first."),
    ("subscriptions", "Subscriptions by dunning state", "Every subscription now."),
    (
        "reconciliation",
        "Reconciliation",
        "Every purchase of the period compared with the gateway. Nothing was changed: each row "
        "says what to do.",
    ),
]


def render_html(s: Summaries) -> str:
    """The whole report as one self-contained HTML page."""
    p = s.period
    title = f"Settlement report {p.date_from.isoformat()} to {p.date_to.isoformat()}"
    note = f"Days in {p.timezone}. Generated for {s.as_of.isoformat(timespec='seconds')}. " + (
        f"Reconciled {s.extra.get('reconciled_purchases', 0)} purchases with the gateway."
        if s.extra.get("reconciled")
        else "Not reconciled with the gateway in this run."
    )
    if s.extra.get("settlement_updates"):
        note += (
            f" Settlement recorded for {s.extra['settlement_updates']} purchases from the "
            "gateway's read-back."
        )
    sections = []
    tables = s.tables()
    for name, heading, blurb in _SECTIONS:
        if name == "reconciliation" and not s.extra.get("reconciled"):
            body = '<p class="muted">Reconciliation was not run.</p>'
        else:
            body = _table(tables[name])
        sections.append(
            f'<h2 id="{name}">{html.escape(heading)}</h2>'
            f'<p class="muted">{html.escape(blurb)} CSV: {name}.csv</p>{body}'
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="muted">{html.escape(note)}</p>'
        f"{_headline_cards(s)}{_charts(s)}{''.join(sections)}</body></html>\n"
    )


def markdown_summary(s: Summaries, html_url: str | None = None) -> str:
    """A short markdown summary for the Prefect UI."""
    p = s.period
    lines = [
        f"# Settlement report {p.date_from} to {p.date_to} ({p.timezone})",
        "",
        "| currency | authorised | paid | refunded | cancelled | voided | declined | fees | net "
        "| approval |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in s.totals.to_dict("records"):
        cur = str(row["currency"])
        rate = row["approval_rate"]
        lines.append(
            f"| {cur} | {format_amount(row['authorised_cents'], cur)} ({row['authorised_count']}) "
            f"| {format_amount(row['paid_cents'], cur)} ({row['paid_count']}) "
            f"| {format_amount(row['refunded_cents'], cur)} ({row['refunded_count']}) "
            f"| {format_amount(row['cancelled_cents'], cur)} ({row['cancelled_count']}) "
            f"| {format_amount(row['voided_cents'], cur)} ({row['voided_count']}) "
            f"| {row['declined_count']} "
            f"| {format_amount(row['fee_cents'], cur)} | {format_amount(row['net_cents'], cur)} "
            f"| {'-' if pd.isna(rate) else f'{float(rate) * 100:.1f} %'} |"
        )
    if s.totals.empty:
        lines.append("| - | nothing in this period | | | | | | | | |")
    lines.append("")
    if s.extra.get("reconciled"):
        n = len(s.reconciliation)
        lines.append(
            f"**Reconciliation:** {s.extra.get('reconciled_purchases', 0)} purchases compared, "
            f"{n} mismatch{'es' if n != 1 else ''}."
        )
    else:
        lines.append("**Reconciliation:** not run.")
    lines.append(f"**Open holds:** {len(s.holds)}.")
    if html_url:
        lines += ["", f"[Open the HTML report]({html_url})"]
    return "\n".join(lines) + "\n"
