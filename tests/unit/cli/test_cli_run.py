"""``payflows run``: its commands are the scenario registry, their options the flows' forms."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from apps.cli import app
from apps.cli_run import _NOT_OPTIONS, _OPTION, _commands
from flows.scenarios import SCENARIOS, by_command


def test_every_scenario_on_the_cli_is_a_run_command_described_by_its_help() -> None:
    commands = _commands()
    for scenario in SCENARIOS:
        if not scenario.on_cli:
            assert scenario.command not in commands
            continue
        command = commands[scenario.command]
        assert command.help == scenario.help
        options = {opt for param in command.params for opt in param.opts}
        for parameter in scenario.parameters():
            if parameter.name in _NOT_OPTIONS:
                continue
            name = _OPTION.get(parameter.name, "--" + parameter.name.replace("_", "-"))
            assert name in options, (scenario.command, parameter.name)
        assert ("--card-prompt" in options) == bool(scenario.card_prompt)
        assert ("--token-prompt" in options) == scenario.token_prompt


def test_run_help_lists_the_registry() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for scenario in SCENARIOS:
        assert (scenario.command in result.output) == scenario.on_cli


def test_a_card_source_is_asked_for_before_anything_runs() -> None:
    result = CliRunner().invoke(app, ["run", "cit", "--amount", "1.00", "--email", "a@b.co"])
    assert result.exit_code == 2
    assert "give one of --card-prompt and --sandbox-card NAME" in result.output


def test_commands_are_found_by_name() -> None:
    assert by_command("cit").flow_name == "customer-initiated-payment"


def test_a_refused_form_switches_no_logger_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI refuses a bad form by validating the flow's parameter model itself: it neither
    goes through Prefect's validation (which logs the parameters) nor silences a logger to hide
    that, which would also hide whatever else was logged meanwhile."""
    import logging

    from prefect.flows import Flow

    from apps.cli_run import _check

    flow = by_command("cit").flow
    bad = {"amount": "1.00", "email": "4111_1111_1111_1111@x.co", "sandbox_card": "visa_approved"}
    with pytest.raises(typer.Exit):
        _check(flow, bad)  # imports done: a logger made by an import is no change
    existing = set(logging.root.manager.loggerDict.values()) | {logging.root}
    changes: list[str] = []
    real_setattr = logging.Logger.__setattr__

    def watched(logger: logging.Logger, name: str, value: object) -> None:
        if logger in existing and name in ("disabled", "level", "propagate", "handlers"):
            changes.append(f"{logger.name}.{name} = {value!r}")
        real_setattr(logger, name, value)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Prefect's validation logs every parameter of a refused form")

    monkeypatch.setattr(logging.Logger, "__setattr__", watched)
    monkeypatch.setattr(logging, "disable", lambda *a, **k: changes.append("logging.disable"))
    monkeypatch.setattr(Flow, "validate_parameters", refuse)

    with pytest.raises(typer.Exit):
        _check(flow, bad)
    _check(flow, {**bad, "email": "a@b.test"})  # a good form passes

    assert changes == []
    assert not logging.getLogger("prefect.flows").disabled
