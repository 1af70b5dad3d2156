"""The settlement report end to end: a ledger with known totals made by the real flows against a
sandbox of the test's own (its clock moves), settlement on that clock, every figure checked to
the cent, a mismatch planted behind the ledger's back found, and an empty period.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from flows import (
    cancel_purchase,
    cancel_refund,
    capture_hold,
    customer_initiated_payment,
    mit_charge,
    preauthorize,
    refund,
    void_hold,
    zero_auth_validation,
)
from flows.report import MISMATCH_STATE, run_settlement_report, settlement_report
from payflows.domain.cards import luhn_valid
from payflows.gateway import PreciumClient
from payflows.reports import ReportResult
from payflows.sandbox.engine import fee_for
from payflows.settings import SANDBOX_API_KEY, load_settings
from tests.flows.support import Ledger, Sandbox, amount_text, card, run, shopper

DAY = 86_400
TZ = "Africa/Johannesburg"


def cit(order: str, card_name: str, amount: int) -> dict[str, Any]:
    return dict(order_id=order, amount=amount_text(amount), **shopper(order), **card(card_name))


def preauth(booking: str, amount: int) -> dict[str, Any]:
    return dict(
        booking_id=booking,
        amount=amount_text(amount),
        **shopper(booking),
        **card("visa_approved"),
    )


async def zero_auth(tag: str, card_name: str) -> str:
    result = await run(
        zero_auth_validation,
        dict(reference=tag, **shopper(tag), **card(card_name)),
    )
    assert result.succeeded and result.recurring_token, result
    return result.recurring_token


def mit(tag: str, token: str, amount: int) -> dict[str, Any]:
    return dict(
        subscription_id=f"sub-{tag}",
        period="2026-12",
        amount=amount_text(amount),
        customer_id=shopper(tag)["email"],
        recurring_token=token,
    )


def read_csv(result: ReportResult, name: str) -> list[dict[str, str]]:
    with open(result.csv_paths[name], newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def ints(row: dict[str, Any], *names: str) -> dict[str, int]:
    return {name: int(row[name]) for name in names}


async def build_ledger(key: str) -> dict[str, str]:
    """Every scenario once, with amounts chosen so each figure below is known."""
    ids: dict[str, str] = {}
    a = await run(customer_initiated_payment, cit(f"A{key}", "visa_approved", 30_000))
    b = await run(customer_initiated_payment, cit(f"B{key}", "mastercard_approved", 12_345))
    c = await run(customer_initiated_payment, cit(f"C{key}", "visa_insufficient_funds", 5_000))
    d = await run(customer_initiated_payment, cit(f"D{key}", "visa_do_not_honour", 7_000))
    e = await run(customer_initiated_payment, cit(f"E{key}", "visa_approved", 20_000))
    assert a.succeeded and b.succeeded and e.succeeded
    assert c.decline_code == "insufficient_funds" and d.decline_code == "do_not_honour"
    ok_token = await zero_auth(f"Z{key}", "visa_approved")
    bad_token = await zero_auth(f"Y{key}", "visa_mit_insufficient_funds")
    m = await run(mit_charge, mit(f"Z{key}", ok_token, 9_900))
    n = await run(mit_charge, mit(f"Y{key}", bad_token, 9_900))
    assert m.succeeded and n.decline_code == "insufficient_funds"
    p1 = await run(preauthorize, preauth(f"P1{key}", 100_000))
    p2 = await run(preauthorize, preauth(f"P2{key}", 50_000))
    p3 = await run(preauthorize, preauth(f"P3{key}", 40_000))
    assert p1.purchase_id and p2.purchase_id and p3.purchase_id
    assert (
        await run(capture_hold, dict(purchase_id=p1.purchase_id, amount=amount_text(60_000)))
    ).succeeded
    assert (await run(void_hold, dict(purchase_id=p2.purchase_id))).succeeded
    assert (await run(cancel_purchase, dict(purchase_id=e.purchase_id))).succeeded
    full = await run(refund, dict(purchase_id=a.purchase_id, refund_ref="full"))
    part = await run(
        refund, dict(purchase_id=b.purchase_id, refund_ref="part", amount=amount_text(2_345))
    )
    undone = await run(
        refund, dict(purchase_id=b.purchase_id, refund_ref="undone", amount=amount_text(1_000))
    )
    assert full.succeeded and part.succeeded and undone.succeeded and undone.refund_id
    back = await run(cancel_refund, dict(purchase_id=b.purchase_id, refund_id=undone.refund_id))
    assert back.succeeded
    ids.update(a=a.purchase_id, b=b.purchase_id, e=e.purchase_id, m=m.purchase_id)
    ids.update(p1=p1.purchase_id, p3=p3.purchase_id)
    return ids  # type: ignore[return-value]


PAID = 30_000 + 12_345 + 20_000 + 9_900 + 60_000
FEES = sum(fee_for(x) for x in (30_000, 12_345, 20_000, 9_900, 60_000))
TOTALS = {
    "authorised_count": 9,  # A B E, two zero-auths, one MIT, three pre-auths
    "authorised_cents": 30_000 + 12_345 + 20_000 + 0 + 0 + 9_900 + 100_000 + 50_000 + 40_000,
    "declined_count": 3,
    "declined_cents": 5_000 + 7_000 + 9_900,
    "unresolved_count": 0,
    "captured_count": 1,
    "captured_cents": 60_000,
    "paid_count": 5,
    "paid_cents": PAID,
    "voided_count": 1,
    "voided_cents": 50_000,
    "cancelled_count": 1,
    "cancelled_cents": 20_000,
    "refused_count": 0,
    # The refund of R 10.00 cancelled before it settled is not money given back.
    "refunded_count": 2,
    "refunded_cents": 30_000 + 2_345,
    "refunds_full_count": 1,
    "refunds_partial_count": 1,
    "refunds_cancelled_count": 1,
    "refunds_cancelled_cents": 1_000,
    "fee_cents": FEES,
    "chargeback_count": 0,
    "chargeback_cents": 0,
    "net_cents": PAID - (30_000 + 2_345) - FEES,
    "fees_reported_count": 5,
}
SETTLES = 12_345 + 9_900 + 60_000  # B (partly refunded), the MIT charge, the capture


@pytest.fixture
async def own_sandbox(
    fresh_sandbox_url: Callable[[], AbstractContextManager[str]],
    flow_env: Callable[[str], None],
):
    with fresh_sandbox_url() as base_url:
        flow_env(base_url)
        origin = base_url.removesuffix("/api/v1/")
        async with httpx.AsyncClient(
            base_url=origin, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}
        ) as http:
            yield Sandbox(http, base_url)


def no_card_numbers(folder: Path) -> None:
    for path in folder.iterdir():
        body = path.read_text(encoding="utf-8")
        for match in re.findall(r"(?<!\d)\d{13,19}(?!\d)", body):
            assert not luhn_valid(match), f"{path.name} holds a card-number-like {match}"
        for number in ("4111111111111111", "5100000000000008", "4000000000000028"):
            assert number not in body


async def test_report_figures_to_the_cent_settlement_and_a_planted_mismatch(
    own_sandbox: Sandbox, ledger: Ledger, key: str, tmp_path: Path
) -> None:
    started = datetime.now(UTC)
    ids = await build_ledger(key)
    now = datetime.now(UTC)
    # Every day the ledger was written on (two if the test ran across the merchant's midnight).
    request = dict(
        date_from=started.astimezone(ZoneInfo(TZ)).date(),
        date_to=now.astimezone(ZoneInfo(TZ)).date(),
        as_of=now,
        timezone=TZ,
        output_dir=str(tmp_path),
    )

    before = await settlement_report(**request)

    (totals,) = read_csv(before, "totals")
    assert totals["currency"] == "ZAR"
    assert ints(totals, *TOTALS) == TOTALS
    assert float(totals["approval_rate"]) == round(9 / 12, 4)
    assert before.mismatches == 0 and before.reconciled_purchases == 12
    (zar,) = before.totals
    assert zar.awaiting_settlement_cents == SETTLES and zar.settled_cents == 0
    # One figure everywhere: the result (CLI, business day) says what the CSV says.
    assert (zar.refunded_cents, zar.refunded_count) == (32_345, 2)
    assert zar.net_cents == TOTALS["net_cents"] and zar.refunds_cancelled_cents == 1_000
    page = Path(before.html_path).read_text(encoding="utf-8")
    assert "R 323.45" in page and "R 333.45" not in page  # refunded, never with the cancel
    assert "All 12 purchases compared match the gateway" in page
    assert "Nothing in this period" not in page
    # Mastercard is B alone: its two partial refunds, one of them cancelled.
    daily = read_csv(before, "daily")
    (mc,) = [r for r in daily if r["brand"] == "mastercard"]
    assert mc["scenario"] == "cit" and mc["day"] == now.astimezone(ZoneInfo(TZ)).date().isoformat()
    assert ints(mc, "paid_cents", "refunded_count", "refunded_cents", "refunds_partial_count") == {
        "paid_cents": 12_345,
        "refunded_count": 1,
        "refunded_cents": 2_345,
        "refunds_partial_count": 1,
    }
    assert ints(mc, "refunds_cancelled_cents", "fee_cents") == {
        "refunds_cancelled_cents": 1_000,
        "fee_cents": fee_for(12_345),
    }
    scenarios = {(r["brand"], r["scenario"]) for r in daily}
    assert scenarios == {
        ("mastercard", "cit"),
        ("visa", "cit"),
        ("visa", "mit"),
        ("visa", "preauth_capture"),
        ("visa", "zero_auth"),
    }
    declines = {
        (r["scenario"], r["decline_code"]): int(r["declined_cents"])
        for r in read_csv(before, "declines")
    }
    assert declines == {
        ("cit", "do_not_honour"): 7_000,
        ("cit", "insufficient_funds"): 5_000,
        ("mit", "insufficient_funds"): 9_900,
    }
    (hold,) = read_csv(before, "holds")
    assert hold["purchase_id"] == ids["p3"] and int(hold["authorised_cents"]) == 40_000
    assert 167 < float(hold["hours_left"]) <= 168  # a Visa hold lasts 7 days
    refunds = {
        (r["status"], int(r["refund_count"]), int(r["refund_cents"]))
        for r in read_csv(before, "refunds")
    }
    assert refunds == {("pending", 2, 32_345), ("cancelled", 1, 1_000)}

    # The gateway's clock: paid -> cleared (1 day) -> settled (2 days).
    await own_sandbox.advance(3 * DAY)
    after = await settlement_report(**request)

    assert after.mismatches == 0 and after.settlement_updates == 3
    settlement = read_csv(after, "settlement")
    summed = {
        name: sum(int(r[name]) for r in settlement)
        for name in (
            "paid_count",
            "paid_cents",
            "fee_cents",
            "gateway_net_cents",
            "settled_count",
            "settled_cents",
            "awaiting_cents",
            "not_settling_count",
            "not_settling_cents",
        )
    }
    assert summed == {
        "paid_count": 5,
        "paid_cents": PAID,
        "fee_cents": FEES,
        "gateway_net_cents": PAID - FEES,
        "settled_count": 3,
        "settled_cents": SETTLES,
        "awaiting_cents": 0,
        "not_settling_count": 2,  # A refunded in full, E cancelled: they never settle
        "not_settling_cents": 30_000 + 20_000,
    }
    lag = read_csv(after, "settlement_lag")
    assert [(r["lag_days"], r["settled_count"], r["settled_cents"]) for r in lag] == [
        ("2", "3", str(SETTLES))
    ]
    assert ledger.attempt(f"mit:sub-Z{key}:2026-12")["purchase_status"] == "settled"  # type: ignore[index]
    (zar,) = after.totals
    assert zar.settled_cents == SETTLES and zar.awaiting_settlement_cents == 0

    # Behind the ledger's back: a refund and a cancel made straight at the gateway.
    async with PreciumClient.from_settings(load_settings()) as gateway:
        await gateway.refund(ids["m"], 1_000)
        await gateway.cancel(ids["p3"])
    untouched = ledger.fingerprint()

    state = await settlement_report(**request, return_state=True)

    # Not a green run: Failed, named for it, saying how many and of which kinds.
    assert state.is_failed() and state.name == MISMATCH_STATE
    assert "2 mismatches" in (state.message or "") and "refund_mismatch 1" in state.message
    planted = await run_settlement_report(**request)
    assert ledger.fingerprint() == untouched  # listed, never fixed
    assert planted.mismatches == 2
    assert planted.mismatches_by_kind == {"refund_mismatch": 1, "status_behind": 1}
    rows = {r["purchase_id"]: r for r in read_csv(planted, "reconciliation")}
    assert rows[ids["m"]]["difference_cents"] == "1000"
    assert rows[ids["m"]]["business_key"] == f"mit:sub-Z{key}:2026-12"
    assert rows[ids["p3"]]["gateway"] == "cancelled" and rows[ids["p3"]]["action"]
    html = Path(planted.html_path).read_text(encoding="utf-8")
    assert "R 1 322.45" in html  # the paid total, as currency
    assert "<svg" in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    no_card_numbers(Path(planted.folder))


async def test_an_empty_period_gives_an_empty_valid_report(
    own_sandbox: Sandbox, ledger: Ledger, tmp_path: Path
) -> None:
    result = await settlement_report(
        date_from=date(2020, 1, 1), date_to=date(2020, 1, 3), output_dir=str(tmp_path)
    )

    assert result.attempts == 0 and result.totals == [] and result.mismatches == 0
    assert result.reconciled and result.reconciled_purchases == 0
    assert Path(result.folder).name == "2020-01-01_2020-01-03"
    for name, path in result.csv_paths.items():
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        assert len(lines) == 1 and lines[0], name  # the header, no rows
    html = Path(result.html_path).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Nothing in this period" in html


async def test_the_ui_gets_a_summary_tables_and_a_link_to_the_html(
    own_sandbox: Sandbox, ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    monkeypatch.setenv("PAYFLOWS_REPORTS_DIR", str(tmp_path))
    result = await settlement_report(date_from=date(2020, 2, 1))
    other = await settlement_report(
        date_from=date(2020, 2, 2), output_dir=str(tmp_path / "elsewhere")
    )

    day = "settlement-report-2020-02-01"
    keys = [f"{day}-{name}" for name in ("summary", "totals", "html", "mismatches", "daily")]
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
        later = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["settlement-report-2020-02-02-html"])
            )
        )
    # Served by the web app under PAYFLOWS_PUBLIC_URL, not a file:// link browsers refuse.
    assert result.html_url == "http://merchant.test/reports/2020-02-01_2020-02-01/report.html"
    links = [a for a in artifacts if a.key == f"{day}-html"]
    assert any(result.html_url in str(a.data) for a in links)
    assert {a.key for a in artifacts} >= set(keys)  # one key per period: never overwritten
    assert any(other.html_url in str(a.data) for a in later)
    assert other.html_url.startswith("file://")  # a folder the web app does not serve
    summaries = [a for a in artifacts if a.key == f"{day}-summary"]
    assert any("2020-02-01 to 2020-02-01" in str(a.data) for a in summaries)
    mismatches = [a for a in artifacts if a.key == f"{day}-mismatches"]
    assert any("all 0 purchases" in str(a.data) or "no purchase" in str(a.data) for a in mismatches)


def test_the_command_prints_json_and_refuses_a_bad_date(
    flow_env: Callable[[str], None], ledger: Ledger, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from apps.cli import app

    runner = CliRunner()
    args = ["report", "--from", "2020-03-01", "--to", "2020-03-02", "--output-dir", str(tmp_path)]

    printed = runner.invoke(app, [*args, "--json"])
    plain = runner.invoke(app, [*args, "--no-reconcile"])
    bad = runner.invoke(app, ["report", "--from", "01/03/2020"])

    assert printed.exit_code == 0, printed.output
    result = json.loads(printed.output[printed.output.index("{") :])
    assert result["date_from"] == "2020-03-01" and result["mismatches"] == 0
    assert Path(result["html_path"]).is_file()
    assert plain.exit_code == 0 and "nothing in this period" in plain.output
    assert "reconciliation: not run" in plain.output and "report.html" in plain.output
    assert bad.exit_code == 2 and "--from must be a date as YYYY-MM-DD" in bad.output
