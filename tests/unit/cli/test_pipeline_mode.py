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


@pytest.mark.parametrize(
    ("command", "flow_module", "flow_name"),
    [("bill", "flows.billing", "subscription_billing"), ("sweep", "flows.sweep", "preauth_sweep")],
)
def test_the_commands_options_are_the_flows_parameters_with_their_help(
    command, flow_module, flow_name
):
    import importlib

    flow = getattr(importlib.import_module(flow_module), flow_name)
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name, prop in flow.parameters.model_dump()["properties"].items():
        assert "--" + name.replace("_", "-") in result.output, name
        assert prop["description"][:40] in " ".join(result.output.split()), name
    assert "--json" in result.output


@pytest.mark.parametrize("command", ["bill", "sweep"])
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--concurrency", "0"], "--concurrency: Input should be greater than or equal to 1"),
        (["--max-failure-rate", "1.5"], "--max-failure-rate: Input should be less than or equal"),
        (["--worker-id", "4111111111111111"], "--worker-id looks like it holds a card number"),
    ],
)
def test_an_option_out_of_bounds_stops_with_one_line_before_anything_runs(
    monkeypatch, tmp_path, command, args, says
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    result = runner.invoke(app, [command, *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], lines
    assert "4111111111111111" not in result.output
    assert not (tmp_path / "ledger.db").exists(), "nothing ran"
