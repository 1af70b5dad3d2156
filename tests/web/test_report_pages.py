"""The settlement reports served by the web app: operator token, login, fixed paths only.

The report is a real one: a month of hand-built attempts (every scenario, three brands, five
decline codes and a refusal, a cancelled refund, a mismatch with its action) summarised and
written by the report's core, then read back over HTTP.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from asgi_lifespan import LifespanManager

from apps.web import create_web_app
from apps.web.reports import COOKIE, session_value
from payflows.reports import Period, ReportResult, report_base_url, write_report
from payflows.reports.frame import LedgerFrames, activity_frame, empty_frame, settlement_frame
from payflows.reports.reconcile import GatewayView, compare
from payflows.reports.summaries import summarise
from payflows.settings import load_settings

from .conftest import MERCHANT

TOKEN = "op-report-7c0ffee-token"
PERIOD = Period(date(2026, 11, 1), date(2026, 11, 30), "Africa/Johannesburg")
LABEL = "2026-11-01_2026-11-30"
CODES = ["insufficient_funds", "do_not_honour", "expired_card", "stolen_card", "limit_exceeded"]


def month_of_attempts() -> list[dict[str, object]]:
    start = datetime(2026, 10, 31, 22, 30, tzinfo=UTC)
    rows: list[dict[str, object]] = []
    for day in range(30):
        at = start + timedelta(days=day)
        for i, brand in enumerate(["visa", "mastercard", "maestro"]):
            amount = 123_456 + 1_000 * day + i
            common = {"currency": "ZAR", "brand": brand, "created_at": at}
            rows.append({"kind": "cit", "state": "succeeded", "amount_cents": amount, **common})
            rows.append({"kind": "mit", "state": "succeeded", "amount_cents": 9_900, **common})
            rows.append({"kind": "preauth", "state": "succeeded", "amount_cents": 50_000, **common})
            rows.append({"kind": "capture", "state": "succeeded", "amount_cents": 40_000, **common})
            rows.append(
                {
                    "kind": "cit",
                    "state": "declined",
                    "amount_cents": 7_000,
                    "decline_code": CODES[(day + i) % 5],
                    **common,
                }
            )
        rows.append(
            {
                "kind": "mit",
                "state": "failed",
                "amount_cents": 9_900,
                "decline_code": "invalid_recurring_token",
                "currency": "ZAR",
                "brand": "visa",
                "created_at": at,
            }
        )
    base = {"currency": "ZAR", "brand": "visa", "created_at": start, "owner_kind": "cit"}
    rows.append({"kind": "refund", "state": "succeeded", "amount_cents": 10_000, **base})
    rows.append(
        {
            "kind": "refund",
            "state": "succeeded",
            "amount_cents": 5_000,
            "refund_cancelled": True,
            **base,
        }
    )
    rows.append({"kind": "refund_cancel", "state": "succeeded", "amount_cents": 5_000, **base})
    return rows


def write_month(reports_dir: Path, base_url: str | None) -> ReportResult:
    frames = LedgerFrames(
        activity=activity_frame(month_of_attempts()),
        settlement=settlement_frame([]),
        refunds=empty_frame({"created_at": "datetime64[us, UTC]"}),
        holds=empty_frame({"purchase_id": "str"}),
        subscriptions=empty_frame({"status": "str"}),
    )
    summaries = summarise(frames, PERIOD, datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
    ledger = pd.DataFrame(
        [
            {
                "purchase_id": "pur_0123456789abcdef0123456789abcdef",
                "business_key": "mit:subscription-with-a-long-external-id-000123:2026-11",
                "kind": "mit",
                "state": "succeeded",
                "purchase_status": "paid",
                "currency": "ZAR",
                "amount_cents": 9_900,
                "captured_cents": 0,
                "refunded_cents": 0,
                "expected_paid_cents": 9_900,
            }
        ]
    )
    summaries.reconciliation = compare(
        ledger, [GatewayView("pur_0123456789abcdef0123456789abcdef", missing=True)]
    )
    summaries.extra.update(reconciled=True, reconciled_purchases=1)
    return write_report(summaries, reports_dir, base_url)


def make_settings(tmp_path: Path, ledger_url: str, token: str | None = TOKEN, **extra: str):
    env = {
        "PAYFLOWS_DATABASE_URL": ledger_url,
        "PAYFLOWS_WEBHOOK_KEYS_FILE": str(tmp_path / "webhook-keys.json"),
        "PAYFLOWS_PUBLIC_URL": MERCHANT,
        "PAYFLOWS_REPORTS_DIR": str(tmp_path / "reports"),
        **extra,
    }
    if token:
        env["PAYFLOWS_OPERATOR_TOKEN"] = token
    return load_settings(**env)


@pytest.fixture
async def web(tmp_path, ledger_url):
    settings = make_settings(tmp_path, ledger_url)
    write_month(Path(settings.reports_dir), report_base_url(settings, settings.reports_dir))
    app = create_web_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
            yield client


REPORT = f"/reports/{LABEL}/report.html"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_the_link_is_the_web_apps_url(tmp_path, ledger_url) -> None:
    settings = make_settings(tmp_path, ledger_url)
    base_url = report_base_url(settings, settings.reports_dir)
    result = write_month(Path(settings.reports_dir), base_url)
    assert result.html_url == f"{MERCHANT}{REPORT}"
    assert report_base_url(settings, tmp_path / "elsewhere") is None


async def test_a_token_opens_the_report_and_its_csvs(web) -> None:
    page = await web.get(REPORT, headers=BEARER)
    csv = await web.get(f"/reports/{LABEL}/daily.csv", headers=BEARER)
    listing = await web.get("/reports", headers=BEARER)

    assert page.status_code == 200 and "R 1 234.56" in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert csv.status_code == 200 and csv.text.startswith("day,currency,brand,scenario")
    assert f'href="{REPORT}"' in listing.text


async def test_without_the_token_nothing_is_served(web) -> None:
    api = await web.get(REPORT)
    wrong = await web.get(REPORT, headers={"Authorization": "Bearer nope"})
    browser = await web.get(REPORT, headers={"Accept": "text/html"})

    assert api.status_code == 401 and wrong.status_code == 401
    assert "R 1 234.56" not in api.text + wrong.text
    assert browser.status_code == 303
    assert browser.headers["location"] == f"/reports/login?next={REPORT}"


async def test_the_login_sets_a_session_that_is_not_the_token(web) -> None:
    bad = await web.post("/reports/login", data={"token": "guess", "next": REPORT})
    good = await web.post("/reports/login", data={"token": TOKEN, "next": REPORT})
    away = await web.post("/reports/login", data={"token": TOKEN, "next": "//evil.example/x"})

    assert bad.status_code == 401 and COOKIE not in bad.cookies
    assert good.status_code == 303 and good.headers["location"] == REPORT
    cookie = good.headers["set-cookie"]
    assert TOKEN not in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert away.headers["location"] == "/reports"  # never an open redirect
    web.cookies.set(COOKIE, good.cookies[COOKIE])
    assert (await web.get(REPORT)).status_code == 200
    expired = session_value(TOKEN, 1_000)
    web.cookies.set(COOKIE, expired)
    assert (await web.get(REPORT)).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        f"/reports/{LABEL}/ledger.db",
        f"/reports/{LABEL}/..%2F..%2Fwebhook-keys.json",
        "/reports/..%2F/report.html",
        "/reports/2026-13-01/report.html",
        "/reports/2020-01-01_2020-01-01/report.html",
    ],
)
async def test_only_report_files_are_served(web, path: str) -> None:
    assert (await web.get(path, headers=BEARER)).status_code == 404


async def test_no_operator_token_configured_means_closed(tmp_path, ledger_url) -> None:
    app = create_web_app(make_settings(tmp_path, ledger_url, token=None))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
            assert (await client.get(REPORT, headers=BEARER)).status_code == 503
            assert (await client.get("/reports/login")).status_code == 503
