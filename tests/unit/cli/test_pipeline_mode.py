"""``payflows bill`` / ``sweep`` without a Prefect server: the core, or one line and exit 2."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from apps.cli import app
from apps.pipeline_mode import NoPrefectServer, prefect_api_url

runner = CliRunner()


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


@pytest.mark.parametrize("command", ["bill", "sweep"])
def test_a_configured_server_that_does_not_answer_stops_at_once_with_one_line(
    monkeypatch, tmp_path, command
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    monkeypatch.setenv("PREFECT_API_URL", _dead_url())
    result = runner.invoke(app, [command])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "payflows up" in lines[0] and "Traceback" not in result.output
    assert not (tmp_path / "ledger.db").exists(), "nothing ran"


def test_no_server_configured_means_run_on_the_core(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    import prefect.settings

    monkeypatch.setattr(prefect.settings.PREFECT_API_URL, "value", lambda: None)
    assert prefect_api_url() is None


def test_a_server_that_answers_is_used(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    monkeypatch.setattr("apps.local_prefect.server_is_up", lambda url: True)
    assert prefect_api_url() == "http://127.0.0.1:1/api"
    monkeypatch.setattr("apps.local_prefect.server_is_up", lambda url: False)
    with pytest.raises(NoPrefectServer):
        prefect_api_url()
