"""``payflows run``: its commands are the scenario registry, their options the flows' forms."""

from __future__ import annotations

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
