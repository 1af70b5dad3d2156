"""The report as one self-contained HTML page (inline CSS and SVG, no script, no asset).

It fits a laptop screen (1366 px): the page has a maximum width, a count and its amount share
one cell, the totals are one column per currency, the wide daily table is shown as three
narrower ones, and long text (ids, actions) wraps. Times are the merchant's. Every string is
escaped; nothing here holds card data (the ledger frames carry no PAN). The tables themselves
are drawn by :mod:`payflows.reports.html_tables`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from payflows.domain.money import format_amount
from payflows.reports.charts import bar_chart, hbar_chart
from payflows.reports.html_tables import frame_table, totals_table
from payflows.reports.render import local_time
from payflows.reports.summaries import Summaries

__all__ = ["CSS", "render_html"]

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2933;
max-width:1280px;margin:1.5rem auto;padding:0 1rem;box-sizing:border-box}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #d9e2ec;padding-bottom:.3rem}
.muted{color:#627d98;font-size:.9rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #d9e2ec;border-radius:6px;padding:.6rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.1rem}.card span{color:#627d98;font-size:.8rem}
.bad b{color:#b42318}.alert{border:1px solid #b42318;background:#fef3f2;padding:.6rem .9rem;
border-radius:6px}
.scroll{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0}
th,td{border:1px solid #d9e2ec;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f0f4f8;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.text{overflow-wrap:anywhere;max-width:13rem}td.long{min-width:14rem;max-width:26rem}
td .n{display:block;color:#627d98;font-size:.75rem}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
svg{max-width:100%;height:auto}
svg text{font-family:inherit;font-size:12px;fill:#334e68}
"""


@dataclass(frozen=True, slots=True)
class _View:
    table: str
    anchor: str
    heading: str
    blurb: str
    columns: tuple[str, ...] | None = None
    empty: str = "Nothing in this period."


_KEYS = ("day", "currency", "brand", "scenario")
_VIEWS = [
    _View(
        "daily",
        "daily-payments",
        "Payments per day",
        "Payment attempts made that day (merchant's time zone): approved, declined by the card "
        "network, refused by the gateway, or still unresolved. Each cell: amount, then count.",
        (*_KEYS, "authorised", "declined", "refused", "unresolved", "approval_rate"),
    ),
    _View(
        "daily",
        "daily-money",
        "Money per day",
        "Paid, given back and kept: net is paid less refunds, fees and chargebacks.",
        (*_KEYS, "paid", "refunded", "fee_cents", "chargeback", "net_cents"),
    ),
    _View(
        "daily",
        "daily-holds",
        "Captures, voids, cancels and refunds per day",
        "Refunds cancelled before they settled are not in refunded.",
        (
            *_KEYS,
            "captured",
            "voided",
            "cancelled",
            "refunds_full_count",
            "refunds_partial_count",
            "refunds_cancelled",
        ),
    ),
    _View(
        "declines",
        "declines",
        "Declines and refusals by code",
        "Declined (card network or issuer) and refused (gateway) payment attempts per code.",
        empty="No decline or refusal in this period.",
    ),
    _View(
        "settlement",
        "settlement",
        "Settlement",
        "Money paid in the period by the day it was paid: settled, awaiting settlement, or "
        "closed before settling (cancelled, refunded in full, charged back).",
        (
            *_KEYS,
            "paid",
            "fee_cents",
            "gateway_net_cents",
            "settled",
            "awaiting",
            "not_settling",
            "charged_back",
            "mean_lag_hours",
        ),
    ),
    _View(
        "settlement_lag",
        "settlement-lag",
        "Settlement lag",
        "Settled payments by whole days from paid to settled.",
        empty="No payment of the period has settled yet.",
    ),
    _View(
        "refunds",
        "refunds",
        "Refunds",
        "Refunds recorded in the period, by status.",
        empty="No refund in this period.",
    ),
    _View(
        "holds",
        "holds",
        "Open holds",
        "Authorisations still open now, soonest deadline first (merchant's time).",
        empty="No hold is open.",
    ),
    _View(
        "subscriptions",
        "subscriptions",
        "Subscriptions by dunning state",
        "Every subscription now, with its failed attempts and why it stopped or is failing.",
        empty="No subscriptions.",
    ),
]


def _charts(s: Summaries) -> str:
    days = [d.isoformat() for d in s.period.days]
    short = [d[5:] for d in days]  # MM-DD: the year is in the title
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
                short,
                values,
                fmt=lambda v, c=currency: format_amount(int(v), c),
            )
        )
    columns = ["authorised_count", "declined_count", "refused_count"]
    decided = daily.groupby("day")[columns].sum() if not daily.empty else pd.DataFrame()
    rates: list[float] = []
    for d in days:
        if d in decided.index:
            ok = decided.loc[d, "authorised_count"]
            total = ok + decided.loc[d, "declined_count"] + decided.loc[d, "refused_count"]
            rates.append(100.0 * ok / total if total else 0.0)
        else:
            rates.append(0.0)
    charts.append(
        bar_chart("Approval rate (%)", short, rates, fmt=lambda v: f"{v:.0f}%", max_value=100)
    )
    declines = s.declines
    if not declines.empty:
        by_code = declines.groupby("decline_code")["declined_count"].sum()
        by_code = by_code.sort_values(ascending=False, kind="stable")
        charts.append(
            hbar_chart(
                "Declines and refusals by code",
                [str(c) for c in by_code.index],
                [float(v) for v in by_code.to_numpy()],
                fmt=lambda v: f"{int(v)}",
            )
        )
    else:
        charts.append(hbar_chart("Declines and refusals by code", [], []))
    lag = s.settlement_lag
    title = "Settlement lag (days from payment to settlement)"
    if not lag.empty:
        by_lag = lag.groupby("lag_days")["settled_count"].sum()
        charts.append(
            bar_chart(
                title,
                [f"{int(d)} d" for d in by_lag.index],
                [float(v) for v in by_lag.to_numpy()],
                fmt=lambda v: f"{int(v)}",
            )
        )
    else:
        charts.append(bar_chart(title, [], []))
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
        if row["chargeback_count"]:
            card(
                f"chargebacks ({row['chargeback_count']})",
                format_amount(row["chargeback_cents"], cur),
                bad=True,
            )
        card("net (paid less refunds, fees, chargebacks)", format_amount(row["net_cents"], cur))
        card(
            f"declined ({row['declined_count']}) / refused ({row['refused_count']})",
            format_amount(row["declined_cents"] + row["refused_cents"], cur),
        )
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


def _reconciliation(s: Summaries) -> str:
    if not s.extra.get("reconciled"):
        return '<p class="muted">Reconciliation was not run.</p>'
    compared = int(s.extra.get("reconciled_purchases", 0))
    if s.reconciliation.empty:
        if compared:
            return f'<p class="muted">All {compared} purchases compared match the gateway.</p>'
        return '<p class="muted">No purchase in this period to compare.</p>'
    n = len(s.reconciliation)
    alert = (
        f'<p class="alert">{n} of the {compared} purchases compared do not match the gateway. '
        "Nothing was changed: each row says what to do.</p>"
    )
    return alert + frame_table(s.reconciliation)


def render_html(s: Summaries) -> str:
    """The whole report as one self-contained HTML page."""
    p = s.period
    title = f"Settlement report {p.date_from.isoformat()} to {p.date_to.isoformat()}"
    note = f"Days and times in {p.timezone}. Figures as of {local_time(s)}. " + (
        f"Reconciled {s.extra.get('reconciled_purchases', 0)} purchases with the gateway."
        if s.extra.get("reconciled")
        else "Not reconciled with the gateway in this run."
    )
    if s.extra.get("settlement_updates"):
        note += (
            f" Settlement recorded for {s.extra['settlement_updates']} purchases from the "
            "gateway's read-back."
        )
    tables = s.tables()
    sections = [
        '<h2 id="totals">Totals per currency</h2><p class="muted">Every figure of the period, '
        "summed per currency: amount, then count. CSV: totals.csv</p>" + totals_table(s.totals)
    ]
    for v in _VIEWS:
        body = frame_table(tables[v.table], columns=v.columns, empty=v.empty)
        sections.append(
            f'<h2 id="{v.anchor}">{html.escape(v.heading)}</h2>'
            f'<p class="muted">{html.escape(v.blurb)} CSV: {v.table}.csv</p>{body}'
        )
    sections.append(
        '<h2 id="reconciliation">Reconciliation</h2><p class="muted">Every purchase of the '
        "period compared with the gateway. CSV: reconciliation.csv</p>" + _reconciliation(s)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="muted">{html.escape(note)}</p>'
        f"{_headline_cards(s)}{_charts(s)}{''.join(sections)}</body></html>\n"
    )
