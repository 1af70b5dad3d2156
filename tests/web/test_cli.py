"""``payflows web register-webhook`` and ``serve``'s start-up checks."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from apps.web.cli import app
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
