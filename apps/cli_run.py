"""``payflows run ...``: every scenario flow from the command line, run in-process.

The commands are made from the scenario registry (:data:`flows.scenarios.SCENARIOS`): one per
scenario, one option per flat parameter of its flow, with the parameter's description as help.
They are built when ``payflows run`` is used, so ``payflows --help`` does not load Prefect.

A card is never a command-line argument (it would rest in the shell history and the process
list). ``--card-prompt`` asks for it with hidden input and puts it in the process's vault; the
flow gets the one-time reference. Against the local sandbox, ``--sandbox-card NAME`` names a test
card instead. Amounts are text in the currency's units (``299.00``), parsed by the flow into
integer cents, never floats.

Exit codes: 0 done (or waiting for the shopper's 3-D Secure), 1 declined, failed or not known
yet, 2 refused (wrong input, configuration): nothing was charged.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Coroutine
from enum import Enum
from functools import cache
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from payflows.domain.cards import CardData
from payflows.domain.money import format_amount
from payflows.settings import ConfigurationError, Settings, load_settings

__all__ = ["app"]

#: Short option names the CLI has always had, by flow parameter; the others are ``--kebab-case``.
_OPTION = {
    "order_id": "--order",
    "booking_id": "--booking",
    "reference": "--ref",
    "refund_ref": "--ref",
    "refund_id": "--refund",
    "purchase_id": "--purchase",
    "customer_id": "--customer",
    "full_name": "--name",
    "recurring_token": "--token",
    "subscription_id": "--subscription",
    "eci_raw": "--eci",
    "authentication_transaction_id": "--auth-id",
}
#: Flow parameters the CLI fills itself: the card and token come from hidden prompts, the
#: browser is the web app's to describe.
_NOT_OPTIONS = {"card_ref", "token_ref", "browser"}


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"payflows: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        raise _fail(f"configuration error: {exc}") from None


def _prompted_card(*, with_cvc: bool = True) -> str:
    """Ask for the card with hidden input; only the vault reference leaves this function."""
    from payflows.vault import default_vault

    number = typer.prompt("Card number", hide_input=True)
    expires = typer.prompt("Expiry (MM/YY)", hide_input=True)
    cvc = typer.prompt("CVC", hide_input=True) if with_cvc else "000"
    name = typer.prompt("Cardholder name")
    try:
        card = CardData(number, expires, cvc, name)
    except ValueError as exc:  # the messages name the field, never its value
        raise _fail(f"card: {exc}") from None
    finally:
        del number, expires, cvc
    return default_vault.put(card)


def _prompted_token() -> str:
    """Ask for the network token and cryptogram (hidden); the vault key leaves, nothing else."""
    import secrets

    from payflows.vault import default_vault

    token = typer.prompt("Network token", hide_input=True)
    cryptogram = typer.prompt("Cryptogram", hide_input=True)
    key = f"network-token:{secrets.token_urlsafe(16)}"
    default_vault.put_secret(key, json.dumps({"token": token, "cryptogram": cryptogram}))
    del token, cryptogram
    return key


def _show(result: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    rows: list[tuple[str, object]] = [
        ("flow", result.flow),
        ("business key", result.business_key),
        ("state", result.state.value),
        ("purchase", result.purchase_id),
        ("purchase status", result.purchase_status),
        ("amount", format_amount(result.amount_cents, result.currency)),
        ("card", " ".join(x for x in (result.brand, result.masked_pan) if x) or None),
        ("decline", result.decline_code),
        ("recurring token", result.recurring_token),
        ("network transaction id", result.network_transaction_id),
        ("refund id", result.refund_id),
        ("hold expires", result.hold_expires_at),
    ]
    if result.three_ds is not None:
        rows += [("3DS MD", result.three_ds.md), ("3DS ACS URL", result.three_ds.acs_url)]
    rows.append(("note", result.message))
    for label, value in rows:
        if value is not None:
            typer.echo(f"{label:>24}  {value}")


def _run(call: Callable[[], Coroutine[Any, Any, Any]], as_json: bool) -> None:
    """Run the flow in this process, print its result, exit with the documented code."""
    from prefect.exceptions import ParameterTypeError

    from flows import result_of_run
    from payflows.ledger.migrate import upgrade
    from payflows.payments import OperationRejected
    from payflows.vault import VaultError

    settings = _settings()
    upgrade(settings.database_url)
    try:
        result: Any = asyncio.run(result_of_run(call()))
    except (OperationRejected, VaultError) as exc:
        raise _fail(f"refused, nothing was charged: {exc}") from None
    except ParameterTypeError as exc:  # Prefect's message names the field, not the value
        raise _fail(f"refused, nothing was charged: {exc}") from None
    _show(result, as_json)
    if not (result.succeeded or result.three_ds is not None):
        raise typer.Exit(1)


def _check(flow: Any, form: dict[str, Any]) -> None:
    """Refuse a form the flow would refuse, in one line and before a run exists: the form is
    held to the flow's parameter model (:func:`flows._forms.check_form`), not run through
    Prefect's validation, which logs a refusal as several error lines of a run that never
    starts. The line names each bad field, never its value."""
    from flows._forms import check_form
    from payflows.payments import OperationRejected

    try:
        check_form(flow, form)
    except OperationRejected as exc:
        raise _fail(f"refused, nothing was charged: {exc}") from None


# -- commands made from the registry ------------------------------------------------------------


def _option(parameter: inspect.Parameter, help_text: str) -> inspect.Parameter:
    """The flow's parameter as a typer option: text (the flow validates it), or a flag."""
    name = _OPTION.get(parameter.name, "--" + parameter.name.replace("_", "-"))
    default = parameter.default
    if isinstance(default, Enum):
        default = default.value
    if default == "":  # an optional field: not given unless typed
        default = None
    if default is True or default is False:
        flag = f"{name}/--no-{name.removeprefix('--')}"
        kind: Any = Annotated[bool, typer.Option(flag, help=help_text)]
    else:
        kind = Annotated[str | None, typer.Option(name, help=help_text)]
        if default is inspect.Parameter.empty:
            kind = Annotated[str, typer.Option(name, help=help_text)]
    return inspect.Parameter(
        parameter.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind
    )


def _extra(name: str, flag: str, help_text: str) -> inspect.Parameter:
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[bool, typer.Option(flag, help=help_text)],
    )


def _command(scenario: Any) -> Callable[..., None]:
    """The ``payflows run`` command of ``scenario``: its options are the flow's parameters."""
    from flows._tags import run_tags
    from flows.scenarios import description

    options = [
        _option(p, description(p)) for p in scenario.parameters() if p.name not in _NOT_OPTIONS
    ]
    if scenario.card_prompt:
        no_cvc = scenario.card_prompt == "no-cvc"
        what = "number and expiry (no CVC)" if no_cvc else "card"
        options.append(_extra("card_prompt", "--card-prompt", f"Type the {what} (hidden)."))
    if scenario.token_prompt:
        options.append(
            _extra("token_prompt", "--token-prompt", "Type the token and cryptogram (hidden).")
        )
    options.append(_extra("as_json", "--json", "Print the result as JSON."))

    def command(**given: Any) -> None:
        as_json = given.pop("as_json")
        if given.pop("card_prompt", False):
            if given.get("sandbox_card") is not None:
                raise _fail("give one of --card-prompt and --sandbox-card NAME")
            given["card_ref"] = _prompted_card(with_cvc=scenario.card_prompt == "with-cvc")
        elif scenario.card_prompt and given.get("sandbox_card") is None:
            raise _fail("give one of --card-prompt and --sandbox-card NAME")
        if given.pop("token_prompt", False):
            if given.get("sandbox_token"):
                raise _fail("give one of --token-prompt and --sandbox-token")
            given["token_ref"] = _prompted_token()
        elif scenario.token_prompt and not given.get("sandbox_token"):
            raise _fail("give one of --token-prompt and --sandbox-token")
        form = {k: v for k, v in given.items() if v is not None}
        _check(scenario.flow, form)
        with run_tags(scenario.flow_name):  # as a deployment's runs carry them
            _run(lambda: scenario.flow(**form, return_state=True), as_json)

    command.__signature__ = inspect.Signature(options)  # type: ignore[attr-defined]
    command.__doc__ = scenario.help
    command.__name__ = scenario.command.replace("-", "_")
    return command


def serve(limit: Annotated[int, typer.Option(help="Flow runs at most at once.")] = 4) -> None:
    """Serve every deployment (same as ``payflows serve``; PREFECT_API_URL: your server)."""
    from deployments.serve import serve_catalog

    _settings()
    serve_catalog(limit=limit)


@cache
def _commands() -> dict[str, Any]:
    """Every ``payflows run`` command by name, made from the registry on first use."""
    from flows.scenarios import SCENARIOS

    built = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    for scenario in SCENARIOS:
        if scenario.on_cli:
            built.command(scenario.command, help=scenario.help)(_command(scenario))
    built.command("serve")(serve)
    return dict(typer.main.get_command(built).commands)  # type: ignore[attr-defined]


class _Scenarios(TyperGroup):
    """``payflows run``: its commands are made when it is used, not when the CLI starts."""

    def _load(self) -> None:
        if not self.commands:
            self.commands.update(_commands())

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        self._load()  # before --help is read
        return super().make_context(*args, **kwargs)

    def list_commands(self, ctx: Any) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        self._load()
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=_Scenarios,
    help="Run one payment scenario (a Prefect flow) in this process and print its result.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
