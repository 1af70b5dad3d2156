"""The report page's HTML tables: a frame as a table, and the totals with a column per currency.

A ``x_count`` and ``x_cents`` pair shows as one cell (the amount, the count under it); a table
longer than ``HTML_ROW_LIMIT`` shows its first rows and points to the CSV. Every string is
escaped.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from payflows.domain.money import format_amount
from payflows.reports.render import HTML_ROW_LIMIT, cell, heading

__all__ = ["frame_table", "totals_table"]


_LONG = {"action", "reason"}


def _auto_columns(frame: pd.DataFrame) -> list[str]:
    """Every column, with each ``x_count`` + ``x_cents`` pair as the one metric ``x``."""
    out: list[str] = []
    for name in frame.columns:
        base = name.removesuffix("_count").removesuffix("_cents")
        if base != name and f"{base}_count" in frame.columns and f"{base}_cents" in frame.columns:
            if base not in out:
                out.append(base)
        else:
            out.append(name)
    return out


def _columns(frame: pd.DataFrame, wanted: tuple[str, ...] | None) -> list[tuple[str, str]]:
    """(heading, column or metric) pairs: ``x`` stands for ``x_count`` + ``x_cents`` together."""
    out = []
    for name in wanted or _auto_columns(frame):
        if name in frame.columns:
            out.append((heading(name), name))
        elif f"{name}_count" in frame.columns and f"{name}_cents" in frame.columns:
            out.append((name.replace("_", " "), name))
    return out


def _td(frame: pd.DataFrame, record: dict[str, Any], column: str) -> str:
    currency = record.get("currency") or None
    if column not in frame.columns:  # a count + amount pair
        n = record[f"{column}_count"]
        amount, _ = cell(f"{column}_cents", record[f"{column}_cents"], currency)
        count, _ = cell(f"{column}_count", n, None)
        return (
            f'<td class="num">{html.escape(amount)}<span class="n">{html.escape(count)}</span></td>'
        )
    text, numeric = cell(column, record[column], currency)
    cls = "num" if numeric else ("text long" if column in _LONG else "text")
    return f'<td class="{cls}">{html.escape(text)}</td>'


def frame_table(
    frame: pd.DataFrame,
    *,
    columns: tuple[str, ...] | None = None,
    empty: str = "Nothing in this period.",
    limit: int = HTML_ROW_LIMIT,
) -> str:
    """``frame`` as a table: ``columns`` picks and orders them (``x`` for the pair ``x_count``
    and ``x_cents``, every column when None); its first ``limit`` rows; ``empty`` if none."""
    if frame.empty:
        return f'<p class="muted">{html.escape(empty)}</p>'
    spec = _columns(frame, columns)
    head = "".join(f"<th>{html.escape(h)}</th>" for h, _c in spec)
    rows = [
        "<tr>" + "".join(_td(frame, record, c) for _h, c in spec) + "</tr>"
        for record in frame.head(limit).to_dict("records")
    ]
    more = ""
    if len(frame) > limit:
        more = f'<p class="muted">First {limit} of {len(frame)} rows; the CSV has them all.</p>'
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


_TOTAL_ROWS = [
    "authorised",
    "declined",
    "refused",
    "unresolved",
    "approval_rate",
    "paid",
    "captured",
    "voided",
    "cancelled",
    "refunded",
    "refunds_cancelled",
    "fee_cents",
    "chargeback",
    "net_cents",
]


def totals_table(totals: pd.DataFrame) -> str:
    """Totals with one column per currency and one row per figure (narrow whatever the count)."""
    if totals.empty:
        return '<p class="muted">Nothing in this period.</p>'
    records = totals.to_dict("records")
    head = "<th>figure</th>" + "".join(
        f"<th>{html.escape(str(r['currency']))}</th>" for r in records
    )
    body = []
    for name in _TOTAL_ROWS:
        cells = []
        for r in records:
            cur = str(r["currency"])
            if name in r:
                text, _ = cell(name, r[name], cur)
                cells.append(f'<td class="num">{html.escape(text)}</td>')
            else:
                amount = format_amount(int(r[f"{name}_cents"]), cur)
                cells.append(
                    f'<td class="num">{html.escape(amount)}'
                    f'<span class="n">{int(r[f"{name}_count"])}</span></td>'
                )
        label = heading(name).replace("fee", "fees")
        body.append(f"<tr><th>{html.escape(label)}</th>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
