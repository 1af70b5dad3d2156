"""``payflows web register-webhook`` and ``serve``'s start-up checks."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from apps.web.cli import app
from payflows.ledger.migrate import head, upgrade
from payflows.sandbox import running_sandbox


def test_register_webhook_for_chosen_events_keeps_the_key(tmp_path, monkeypatch):
    keys_file = tmp_path / "keys" / "webhook-keys.json"
    monkeypatch.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(keys_file))
    monkeypatch.setenv("PAYFLOWS_PUBLIC_URL", "https://shop.example/pay")
    with running_sandbox() as api_url:
        monkeypatch.setenv("PRECIUM_BASE_URL", api_url)
        first = CliRunner().invoke(
            app,
            ["register-webhook", "--events", "purchase.paid", "--events", "payment.refunded"],
        )
        second = CliRunner().invoke(app, ["register-webhook", "--url", "http://127.0.0.1:9/x"])

    assert first.exit_code == 0, first.output
    assert "https://shop.example/pay/webhooks/precium" in first.output
    hooks = json.loads(keys_file.read_text())["webhooks"]
    assert [h["callback"] for h in hooks] == [
        "https://shop.example/pay/webhooks/precium",
        "http://127.0.0.1:9/x",
    ]
    assert hooks[0]["events"] == ["purchase.paid", "payment.refunded"]
    assert hooks[0]["all_events"] is False and hooks[1]["all_events"] is True
    assert hooks[0]["public_key"] != hooks[1]["public_key"]
    assert second.exit_code == 0, second.output


def test_register_webhook_says_why_when_the_gateway_is_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(tmp_path / "keys.json"))
    monkeypatch.setenv("PRECIUM_BASE_URL", "http://127.0.0.1:9/api/v1/")
    monkeypatch.setenv("PRECIUM_TIMEOUT_SECONDS", "2")

    result = CliRunner().invoke(app, ["register-webhook", "--url", "http://127.0.0.1:8500/w"])

    assert result.exit_code == 1
    assert "could not register the webhook" in result.output
    assert not (tmp_path / "keys.json").exists()


def test_register_webhook_refuses_a_url_that_is_not_http(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(tmp_path / "keys.json"))
    result = CliRunner().invoke(app, ["register-webhook", "--url", "ftp://example.com/x"])
    assert result.exit_code == 2 and "http(s)" in result.output


def test_serve_stops_at_start_on_a_bad_public_url(monkeypatch):
    monkeypatch.setenv("PAYFLOWS_PUBLIC_URL", "shop.example")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "PAYFLOWS_PUBLIC_URL" in result.output


def test_serve_hides_the_server_banner_and_brings_its_own_prefect_server(monkeypatch, tmp_path):
    """Issue 15: no `server: uvicorn`; without PREFECT_API_URL one managed local server is
    started around the app (and stopped with it), never Prefect's temporary ones."""
    from contextlib import contextmanager

    import uvicorn

    import apps.local_prefect

    runs: list[dict] = []
    servers: list[str] = []

    @contextmanager
    def fake_prefect_api(home, **_kw):  # type: ignore[no-untyped-def]
        servers.append(f"started {home}")
        yield "http://127.0.0.1:4999/api"
        servers.append("stopped")

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append(kw))
    monkeypatch.setattr(apps.local_prefect, "prefect_api", fake_prefect_api)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/l.db")
    upgrade(f"sqlite:///{tmp_path}/l.db")

    result = CliRunner().invoke(app, ["serve", "--prefect-home", str(tmp_path / "p")])

    assert result.exit_code == 0, result.output
    (kw,) = runs
    assert kw["server_header"] is False and kw["host"] == "127.0.0.1"
    assert servers == [f"started {tmp_path / 'p'}", "stopped"]

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4998/api")
    assert CliRunner().invoke(app, ["serve"]).exit_code == 0
    assert len(runs) == 2 and len(servers) == 2  # the configured server is used as it is


def test_serve_stops_at_start_on_a_ledger_that_is_not_migrated(monkeypatch, tmp_path):
    """The checkout counts failures in the ledger: an old schema would refuse every shopper."""
    import uvicorn

    runs: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append(kw))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4998/api")
    url = f"sqlite:///{tmp_path}/old.db"
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", url)
    upgrade(url, "0006")

    result = CliRunner().invoke(app, ["serve"])

    assert result.exit_code == 2 and runs == []
    assert f"revision 0006, not {head()}" in result.output
    assert "payflows db upgrade" in result.output


def test_order_prints_a_checkout_link_the_app_accepts(monkeypatch):
    from urllib.parse import parse_qs, urlsplit

    from apps.web.guard import OrderSigner

    monkeypatch.setenv("PAYFLOWS_CHECKOUT_SECRET", "cli-test-secret-0123456789")
    monkeypatch.setenv("PAYFLOWS_PUBLIC_URL", "https://pay.example")
    result = CliRunner().invoke(
        app, ["order", "--amount", "49.99", "--product", "Blue mug", "--order-id", "shop-1001"]
    )
    assert result.exit_code == 0, result.output
    link = result.output.strip()
    assert link.startswith("https://pay.example/checkout?order=")
    (token,) = parse_qs(urlsplit(link).query)["order"]
    order = OrderSigner("cli-test-secret-0123456789").verify(token)
    assert (order.order_id, order.amount_cents, order.product) == ("shop-1001", 4999, "Blue mug")

    bad = CliRunner().invoke(app, ["order", "--amount", "1" * 30, "--product", "Mug"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    for amount in ["1,500", "100000000000"]:  # a comma; 12 digits of cents: past the form's limit
        bad = CliRunner().invoke(app, ["order", "--amount", amount, "--product", "Mug"])
        assert bad.exit_code == 2 and "Traceback" not in bad.output and amount not in bad.output


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        ("1,500", "amount: not an amount: write it like 199.99 (no sign, no commas, no spaces)"),
        ("1 500", "amount: not an amount: write it like 199.99 (no sign, no commas, no spaces)"),
        ("4111 1111 1111 1111", "amount: not an amount"),  # a card number: never echoed
        ("-5.00", "amount: not an amount"),
        ("1000000000", "amount: too large: at most 9 digits before the point in ZAR"),
        ("4111111111111111", "amount: too large: at most 9 digits before the point in ZAR"),
        ("1.0000", "amount: the amount has more decimals than ZAR allows"),
        ("000000000001.00", "amount: too many digits: at most 11 in all (write it without"),
        ("0.00", "amount: must be more than zero"),
    ],
)
def test_order_holds_the_amount_to_the_forms_rule(monkeypatch, amount, says):
    """The checkout link's amount is read as a flow's form reads it: no commas, no spaces, at
    most 11 digits; the reason is said, the text never repeated."""
    monkeypatch.setenv("PAYFLOWS_CHECKOUT_SECRET", "cli-test-secret-0123456789")
    bad = CliRunner().invoke(app, ["order", "--amount", amount, "--product", "Mug"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert says in bad.output and amount not in bad.output


def test_the_web_app_emits_no_prefect_event_without_prefect_api_url(monkeypatch):
    from datetime import UTC, datetime

    import apps.web.app as web_app
    from payflows.gateway import WebhookEvent
    from payflows.webhooks import Delivery

    called: list[object] = []
    monkeypatch.setattr(web_app, "emit_event", lambda **kw: called.append(kw))
    monkeypatch.setattr(web_app, "prefect_configured", lambda: False)
    event = WebhookEvent.parse(b'{"event": "purchase.paid", "data": {"purchase_id": "p1"}}')
    delivery = Delivery("k", event, None, datetime.now(UTC), False, True, True)

    web_app._emit(delivery)
    assert called == []
    monkeypatch.setattr(web_app, "prefect_configured", lambda: True)
    web_app._emit(delivery)
    assert len(called) == 1


def test_prefect_configured_reads_prefect_api_url(monkeypatch):
    from apps.web.app import prefect_configured

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert prefect_configured()


def _client_seen(kw: dict, forwarded_for: str) -> str:
    """The client address the app would see for a request from 127.0.0.1 carrying
    ``X-Forwarded-For: forwarded_for``, under the uvicorn settings ``kw`` serve passed."""
    import asyncio

    import uvicorn

    seen: list[str] = []

    async def echo(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope["client"][0])

    config = uvicorn.Config(echo, **kw)
    config.load()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/checkout", "raw_path": b"/checkout", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8500),
        "headers": [(b"x-forwarded-for", forwarded_for.encode())],
    }  # fmt: skip
    asyncio.run(config.loaded_app(scope, None, None))
    return seen[0]


def test_serve_trusts_x_forwarded_for_only_when_forwarded_allow_ips_names_the_proxy(
    monkeypatch, tmp_path
):
    """The checkout's failure limit counts per client address. uvicorn trusts X-Forwarded-For
    from 127.0.0.1 by default, so any local client, or a proxy that passes the shopper's own
    header through (nginx without proxy_set_header X-Forwarded-For), could name a new address
    on every attempt and never be limited. Trusted only when the operator names the proxy."""
    import uvicorn

    runs: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append(kw))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4998/api")
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/l.db")
    upgrade(f"sqlite:///{tmp_path}/l.db")

    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert CliRunner().invoke(app, ["serve"]).exit_code == 0
    assert _client_seen(runs[-1], "9.9.9.9") == "127.0.0.1"

    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
    assert CliRunner().invoke(app, ["serve"]).exit_code == 0
    assert _client_seen(runs[-1], "9.9.9.9") == "9.9.9.9"
