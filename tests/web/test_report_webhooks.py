"""Settlement that reaches the ledger by webhook alone: the sandbox settles on its clock and
delivers ``purchase.settled`` to the receiver over loopback; a report that records nothing itself
(``track_settlement=False``) then finds the money settled, with the gateway's fees."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
from typer.testing import CliRunner

from apps.web import create_web_app
from apps.web.cli import app as web_cli
from payflows.domain import CardData
from payflows.gateway import PreciumClient
from payflows.ledger import make_engine
from payflows.payments import PaymentContext, ensure_customer, pay_with_card
from payflows.reports import resolve_period, run_report
from payflows.sandbox import SandboxConfig, running_sandbox
from payflows.sandbox.engine import fee_for
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY
from tests.web.support import attempt_of, serve_in_thread
from tests.web.test_webhook_loopback import delivered

DAY = 86_400


async def test_settlement_by_webhook_reaches_the_report(tmp_path, ledger_url, monkeypatch):
    keys_file = tmp_path / "webhook-keys.json"
    with running_sandbox(SandboxConfig(webhook_backoff_base=0.05, seed=4)) as api_url:
        origin = api_url.removesuffix("/api/v1/")
        monkeypatch.setenv("PRECIUM_BASE_URL", api_url)
        monkeypatch.setenv("PAYFLOWS_DATABASE_URL", ledger_url)
        monkeypatch.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(keys_file))
        from payflows.settings import load_settings

        with serve_in_thread(create_web_app(load_settings())) as merchant:
            result = await asyncio.to_thread(
                CliRunner().invoke,
                web_cli,
                ["register-webhook", "--url", f"{merchant}/webhooks/precium"],
            )
            assert result.exit_code == 0, result.output
            engine = make_engine(ledger_url)
            gateway = PreciumClient(api_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID)
            ctx = PaymentContext(gateway=gateway, engine=engine)
            control = httpx.AsyncClient(
                base_url=origin, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}
            )
            started = datetime.now(UTC)
            try:
                customer = await ensure_customer(ctx, "report-hook", email="r@example.com")
                card = CardData("5100 0000 0000 0008", "12/30", "123", "Re Port")
                purchases = []
                for n, cents in enumerate((1_500, 24_999)):
                    paid = await pay_with_card(
                        ctx,
                        f"cit:report-hook-{n}",
                        customer,
                        card,
                        amount_cents=cents,
                        currency="ZAR",
                        product="Widget",
                    )
                    assert paid.succeeded and paid.purchase_id
                    purchases.append(paid.purchase_id)
                assert await control.post("/_sandbox/clock/advance/", json={"seconds": 3 * DAY})
                for pid in purchases:
                    ours = await delivered(control, pid)
                    assert any(d["event_type"] == "purchase.settled" for d in ours), ours
                    assert all(d["delivered"] for d in ours), ours
                tz = "Africa/Johannesburg"
                now = datetime.now(UTC)
                period = resolve_period(
                    started.astimezone(ZoneInfo(tz)).date(), now.astimezone(ZoneInfo(tz)).date()
                )
                summaries, report = await run_report(
                    engine, period, tmp_path / "reports", gateway=gateway, track_settlement=False
                )
            finally:
                await control.aclose()
                await gateway.aclose()

            for pid in purchases:
                attempt = attempt_of(engine, pid)
                assert attempt.purchase_status == "settled" and attempt.settled_at is not None
            engine.dispose()

    assert report.mismatches == 0 and report.settlement_updates == 0
    assert report.reconciled_purchases == 2
    (zar,) = report.totals
    fees = fee_for(1_500) + fee_for(24_999)
    assert (zar.paid_cents, zar.settled_cents, zar.awaiting_settlement_cents) == (26_499, 26_499, 0)
    assert (zar.fee_cents, zar.net_cents) == (fees, 26_499 - fees)
    assert summaries.settlement["brand"].tolist() == ["mastercard"]
