"""``payflows doctor`` and ``payflows delete-card`` against a running sandbox."""

from __future__ import annotations

from typer.testing import CliRunner

from apps.cli import app
from payflows.sandbox import running_sandbox


def test_doctor_prints_one_line_per_check_and_fails_without_a_webhook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(tmp_path / "keys.json"))
    monkeypatch.setenv("PAYFLOWS_PUBLIC_URL", "http://127.0.0.1:9/shop")
    with running_sandbox() as api_url:
        monkeypatch.setenv("PRECIUM_BASE_URL", api_url)
        result = CliRunner().invoke(app, ["doctor"])

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    checks = [line for line in lines if line.startswith(("ok", "FAIL"))]
    assert len(checks) == 7
    failed = [line.split(maxsplit=1)[1] for line in checks if line.startswith("FAIL")]
    # Keys, brand, public key and payment methods pass; nothing is registered nor listening.
    assert [f.startswith("webhook") for f in failed] == [True, True], failed
    assert "http://127.0.0.1:9/shop/webhooks/precium" in result.output
    assert "5 of 7 checks passed" in result.output


def test_doctor_passes_once_the_webhook_is_registered_and_answers(tmp_path, monkeypatch):
    from apps.web import create_web_app
    from payflows.ledger.migrate import upgrade
    from payflows.settings import load_settings
    from tests.web.support import serve_in_thread

    monkeypatch.chdir(tmp_path)
    ledger = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(ledger)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", ledger)
    monkeypatch.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(tmp_path / "keys.json"))
    with running_sandbox() as api_url:
        monkeypatch.setenv("PRECIUM_BASE_URL", api_url)

        def web(origin: str):
            monkeypatch.setenv("PAYFLOWS_PUBLIC_URL", origin)
            return create_web_app(load_settings())

        with serve_in_thread(web):
            registered = CliRunner().invoke(app, ["web", "register-webhook"])
            assert registered.exit_code == 0, registered.output
            result = CliRunner().invoke(app, ["doctor"])

    assert result.exit_code == 0, result.output
    assert "7 of 7 checks passed" in result.output
    assert "unsigned delivery refused: 401" in result.output


def test_delete_card_refuses_a_token_the_ledger_does_not_hold(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    with running_sandbox() as api_url:
        monkeypatch.setenv("PRECIUM_BASE_URL", api_url)
        result = CliRunner().invoke(app, ["delete-card", "no-such-token"])
    assert result.exit_code == 2
    assert "no stored card 'no-such-token'" in result.output
