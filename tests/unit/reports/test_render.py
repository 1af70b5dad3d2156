"""The outputs: CSVs with their headers, one self-contained HTML page, the markdown summary."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime

from payflows.reports import Period, markdown_summary, render_html
from payflows.reports.frame import LedgerFrames, activity_frame, empty_frame, settlement_frame
from payflows.reports.reconcile import empty_mismatches
from payflows.reports.render import bar_chart, write_csvs
from payflows.reports.summaries import summarise

NOON = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PERIOD = Period(date(2026, 12, 1), date(2026, 12, 2), "Africa/Johannesburg")


def summaries(records: list[dict[str, object]]):
    frames = LedgerFrames(
        activity=activity_frame(records),
        settlement=settlement_frame([]),
        refunds=empty_frame({"created_at": "datetime64[us, UTC]"}),
        holds=empty_frame({"purchase_id": "str"}),
        subscriptions=empty_frame({"status": "str"}),
    )
    out = summarise(frames, PERIOD, NOON)
    out.reconciliation = empty_mismatches()
    return out


def test_the_html_is_self_contained_escaped_and_shows_currency() -> None:
    s = summaries(
        [
            {
                "kind": "cit",
                "state": "succeeded",
                "amount_cents": 123_456,
                "currency": "ZAR",
                "brand": "<script>alert(1)</script>",
                "created_at": NOON,
            },
            {
                "kind": "cit",
                "state": "declined",
                "amount_cents": 500,
                "currency": "ZAR",
                "brand": "visa",
                "decline_code": "do_not_honour",
                "created_at": NOON,
            },
        ]
    )

    page = render_html(s)

    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)  # no external asset
    assert "R 1 234.56" in page and "50.0 %" in page
    assert page.count("<svg") == 4  # volume, approval rate, declines by code, settlement lag
    assert "do_not_honour" in page


def test_csvs_keep_cents_and_headers(tmp_path) -> None:
    s = summaries([])

    paths = write_csvs(s, tmp_path)

    assert set(paths) == set(s.tables())
    with open(paths["daily"], newline="") as handle:
        header = next(csv.reader(handle))
    assert "paid_cents" in header and "approval_rate" in header
    assert "Nothing in this period" in render_html(s)
    text = markdown_summary(s, "file:///tmp/report.html")
    assert "nothing in this period" in text and "(file:///tmp/report.html)" in text


def test_bar_chart_scales_and_labels() -> None:
    svg = bar_chart("Volume", ["a", "b"], [10.0, 5.0], fmt=lambda v: f"{v:.0f}")
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert heights[0] == 2 * heights[1] > 0
    assert "<title>a: 10</title>" in svg
    assert "no data" in bar_chart("Empty", [], [])
