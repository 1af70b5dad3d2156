"""A real browser opens the served settlement report: signs in, reads the figures, and the page
fits a 1366 px laptop screen with chart labels that do not overlap.

Debian's Chromium driven headless by Playwright (the ``chromium`` fixture); the web app is a
uvicorn server on loopback serving a month's report written by the report's core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.web import create_web_app
from payflows.reports import report_base_url
from tests.web.support import serve_in_thread
from tests.web.test_report_pages import LABEL, TOKEN, make_settings, write_month

#: Everything wider than the window, and every pair of chart labels on one line that overlap.
LAYOUT = """() => {
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll('table, svg, .cards, h1, p')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' +
      [...e.querySelectorAll('th')].map(t => t.textContent).join('|'));
  const scrolled = [...document.querySelectorAll('.scroll')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).length;
  const overlaps = [];
  for (const svg of document.querySelectorAll('svg')) {
    const boxes = [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect());
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 &&
          b.top < a.bottom - 1) overlaps.push(svg.getAttribute('aria-label'));
    }
  }
  return {page: document.documentElement.scrollWidth, width, wide, scrolled, overlaps};
}"""


@pytest.fixture
def served(tmp_path: Path, ledger_url: str, monkeypatch: pytest.MonkeyPatch):
    def app(origin: str) -> Any:
        settings = make_settings(tmp_path, ledger_url, PAYFLOWS_PUBLIC_URL=origin)
        write_month(Path(settings.reports_dir), report_base_url(settings, settings.reports_dir))
        return create_web_app(settings)

    with serve_in_thread(app) as origin:
        yield origin


async def test_an_operator_opens_the_served_report_on_a_laptop(served: str, chromium: Any) -> None:
    context = await chromium.new_context(viewport={"width": 1366, "height": 800})
    page = await context.new_page()
    page.set_default_timeout(15_000)
    report = f"{served}/reports/{LABEL}/report.html"

    await page.goto(report)
    await page.wait_for_url(f"{served}/reports/login**")
    await page.fill("#token", TOKEN)
    await page.click("#sign-in")
    await page.wait_for_url(report)

    text = await page.inner_text("body")
    assert "Settlement report 2026-11-01 to 2026-11-30" in text
    assert "R 1 234.56" in text  # the first day's visa CIT, as currency
    assert "missing_at_gateway" in text and "Check PRECIUM_BASE_URL" in text
    assert "invalid_recurring_token" in text  # a refusal, among the declines
    layout = await page.evaluate(LAYOUT)
    assert layout["page"] <= 1366, layout
    assert layout["wide"] == [] and layout["scrolled"] == 0, layout
    assert layout["overlaps"] == [], layout
