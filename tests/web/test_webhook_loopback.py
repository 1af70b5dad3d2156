"""A real sandbox delivering to the receiver over loopback, after ``register-webhook``."""

from __future__ import annotations

import asyncio
import json

import httpx
from typer.testing import CliRunner

from apps.web import create_web_app
from apps.web.cli import app as web_cli
from payflows.domain import CardData, Status
from payflows.gateway import PreciumClient
from payflows.ledger import make_engine
from payflows.payments import PaymentContext, ensure_customer, pay_with_card, refund_purchase
from payflows.sandbox import SandboxConfig, running_sandbox
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY
from tests.web.support import attempt_of, ledger_snapshot, serve_in_thread, stored_events


async def delivered(control: httpx.AsyncClient, purchase_id: str) -> list[dict]:
    """The sandbox's deliveries for ``purchase_id`` once none is waiting for a retry (or 10 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        assert (await control.post("/_sandbox/webhooks/flush/")).status_code == 200
        results = (await control.get("/_sandbox/webhooks/deliveries/")).json()["results"]
        ours = [d for d in results if d["purchase_id"] == purchase_id]
        if all(d["delivered"] or d["given_up"] for d in ours) or loop.time() > deadline:
            return ours
        await asyncio.sleep(0.05)


async def test_the_sandbox_delivers_signed_events_that_the_ledger_applies(
    tmp_path, ledger_url, monkeypatch, prefect_events
):
    keys_file = tmp_path / "webhook-keys.json"
    with running_sandbox(SandboxConfig(webhook_backoff_base=0.05, seed=3)) as api_url:
        origin = api_url.removesuffix("/api/v1/")
        env = {
            "PRECIUM_BASE_URL": api_url,
            "PAYFLOWS_DATABASE_URL": ledger_url,
            "PAYFLOWS_WEBHOOK_KEYS_FILE": str(keys_file),
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        from payflows.settings import load_settings

        web = create_web_app(load_settings())
        with serve_in_thread(web) as merchant:
            callback = f"{merchant}/webhooks/precium"
            # The CLI runs its own event loop: give it a thread of its own.
            result = await asyncio.to_thread(
                CliRunner().invoke, web_cli, ["register-webhook", "--url", callback]
            )
            assert result.exit_code == 0, result.output
            assert "registered webhook" in result.output
            (hook,) = json.loads(keys_file.read_text())["webhooks"]
            assert hook["callback"] == callback and hook["all_events"] is True
            assert hook["public_key"].startswith("-----BEGIN PUBLIC KEY-----")

            engine = make_engine(ledger_url)
            gateway = PreciumClient(api_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID)
            ctx = PaymentContext(gateway=gateway, engine=engine)
            control = httpx.AsyncClient(
                base_url=origin, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}
            )
            try:
                customer = await ensure_customer(ctx, "web-loopback-1", email="a@example.com")
                card = CardData("4111 1111 1111 1111", "12/30", "123", "Loop Back")
                paid = await pay_with_card(
                    ctx,
                    "cit:web-loopback-1",
                    customer,
                    card,
                    amount_cents=1500,
                    currency="ZAR",
                    product="Widget",
                )
                assert paid.succeeded and paid.purchase_id
                refund = await refund_purchase(ctx, paid.purchase_id, 500, refund_ref="r1")
                assert refund.succeeded
                ours = await delivered(control, paid.purchase_id)
            finally:
                await control.aclose()
                await gateway.aclose()

            assert ours and all(d["delivered"] and d["last_status"] == 200 for d in ours), ours
            rows = [r for r in stored_events(engine) if r.purchase_id == paid.purchase_id]
            types = [r.event_type for r in rows]
            assert "purchase.paid" in types and "payment.refunded" in types
            assert len(rows) == len(ours)  # each delivery stored once
            assert all(r.applied for r in rows)
            assert attempt_of(engine, paid.purchase_id).purchase_status is Status.PAID
            refunds = ledger_snapshot(engine)["refunds"]
            assert [(pid, cents) for pid, cents, _c, _s in refunds.values()] == [
                (paid.purchase_id, 500)
            ]
            engine.dispose()
    names = [e.event for e in await prefect_events.collect()]
    assert "payflows.purchase.paid" in names and "payflows.payment.refunded" in names
