"""``payflows bill`` and ``payflows sweep``: a command made from its flow, run in it or on the core.

**Options.** A command's options are its flow's parameters (:func:`pipeline_command`): the same
names, types, defaults and help text (the parameters' descriptions) as the Prefect UI's form, so
the two cannot drift apart; ``--json`` is added. Values are checked against the parameters'
constraints before anything runs (one line, exit 2).

**Where it runs.** With ``PREFECT_API_URL`` set (environment or Prefect profile) the command runs
the Prefect flow against that server, under the flow's run tags (:func:`flows._tags.run_tags`),
so the run shows in its UI and automations match it; if that server does not answer, the command
stops at once with one line saying how to start one, instead of a traceback from an ephemeral
server that did not come up in time. Without it, the command runs the Prefect-free core
directly (the same claims, charges, read-backs and summary; no flow run is recorded).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, get_args, get_origin, get_type_hints

__all__ = [
    "NoPrefectServer",
    "parse_as_of",
    "pipeline_command",
    "prefect_api_url",
    "register_pipeline_command",
    "run_pipeline",
    "run_pipeline_command",
    "summary_json",
]


class NoPrefectServer(Exception):
    """``PREFECT_API_URL`` names a server that does not answer."""


def prefect_api_url() -> str | None:
    """The configured Prefect API, or None to run on the core; raises NoPrefectServer."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        try:
            from prefect.settings import PREFECT_API_URL

            url = PREFECT_API_URL.value()
        except Exception:  # a broken profile: treat as no server configured
            url = None
    if not url:
        return None
    from apps.local_prefect import server_is_up

    if not server_is_up(url):
        raise NoPrefectServer(
            f"no Prefect server answers at {url}: start one with `payflows up` "
            "(or `prefect server start`), or unset PREFECT_API_URL to run without Prefect"
        )
    return url


def run_pipeline(
    server: str | None,
    on_core: Callable[[], Awaitable[Any]],
    in_flow: Callable[[], Awaitable[Any]],
) -> Any:
    """The run's summary: straight on the core without a server, else through its flow.

    A flow that ends Failed because work was left (:class:`RunIncomplete`) still hands back
    its summary: the command prints it and exits 1, as it does for a run on the core.
    """
    if server is None:
        return asyncio.run(on_core())
    from payflows.exactly_once import RunIncomplete

    try:
        return asyncio.run(in_flow())
    except RunIncomplete as exc:
        return exc.summary


def summary_json(summary: Any, problem: str | None) -> str:
    """A run's summary as JSON, with whether it completed and, if not, why."""
    out = summary.model_dump(mode="json")
    out["complete"] = problem is None
    out["problem"] = problem
    return json.dumps(out, indent=2)


def _plain(hint: Any) -> tuple[Any, str | None]:
    """The type a command-line option takes for a parameter, and the parameter's help."""
    from pydantic.fields import FieldInfo

    help_text = None
    if get_origin(hint) is Annotated:
        hint, *meta = get_args(hint)
        for item in meta:
            if isinstance(item, FieldInfo) and item.description:
                help_text = item.description
    if datetime in get_args(hint) or hint is datetime:  # as_of: parsed as the CLI reads it
        hint = str | None
    return hint, help_text


def _options(flow: Any) -> list[inspect.Parameter]:
    """The flow's parameters as typer options (keyword-only), in the form's order."""
    import typer

    hints = get_type_hints(flow.fn, include_extras=True)
    options = []
    for param in inspect.signature(flow.fn).parameters.values():
        hint, help_text = _plain(hints[param.name])
        options.append(
            inspect.Parameter(
                param.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=param.default,
                annotation=Annotated[hint, typer.Option(help=help_text)],
            )
        )
    return options


def parse_as_of(text: str | None) -> datetime | None:
    """``2026-02-28`` or an ISO timestamp; a naive one is taken as UTC.

    Raises :class:`ValueError` with a one-line message the commands print as is (exit 2).
    """
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--as-of must be a date or an ISO timestamp (2026-02-28, 2026-02-28T02:00Z), "
            f"got {text!r}"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _checked(flow: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The options as the flow's parameters (defaults for those not given), each held to its
    constraints (``ge``, ``le``...).

    Raises :class:`ValueError` with one line naming the option; the value is not echoed (a card
    number typed into the wrong option must not land in a terminal's scrollback either).
    """
    from pydantic import TypeAdapter, ValidationError

    from payflows.domain.screening import screen_value

    params = inspect.signature(flow.fn).parameters
    unknown = set(options) - set(params)
    if unknown:  # a programming error, not an operator's
        raise TypeError(f"{flow.name} has no parameter {', '.join(sorted(unknown))}")
    hints = get_type_hints(flow.fn, include_extras=True)
    checked: dict[str, Any] = {}
    for name, param in params.items():
        value = options.get(name, param.default)
        option = "--" + name.replace("_", "-")
        screen_value(option, value)  # a card number in any option: refused, never a parameter
        if name == "as_of":
            value = parse_as_of(value)
        try:
            checked[name] = TypeAdapter(hints[name]).validate_python(value)
        except ValidationError as exc:
            reason = exc.errors(include_input=False)[0]["msg"]
            raise ValueError(f"{option}: {reason}") from None
    return checked


def run_pipeline_command(
    flow: Any,
    command: str,
    options: dict[str, Any],
    *,
    on_core: Callable[[dict[str, Any], Any], Awaitable[Any]],
    show: Callable[[Any], None],
    json_out: bool = False,
) -> int:
    """Run the pipeline once (flow or core), print the summary and what was left; the exit code.

    0 complete; 1 work left or the failure threshold passed (the reason on stderr, or in the
    JSON); 2 bad input, a configuration error or no Prefect server answering.
    """
    from flows._tags import run_tags
    from payflows.ledger.migrate import upgrade
    from payflows.settings import ConfigurationError, load_settings

    try:  # bad input stops here, before anything runs
        params = _checked(flow, options)
        settings = load_settings()
        server = prefect_api_url()
    except (ValueError, ConfigurationError, NoPrefectServer) as exc:
        print(f"payflows {command}: {exc}", file=sys.stderr)
        return 2
    upgrade(settings.database_url)

    async def in_flow() -> Any:
        with run_tags(flow.name):
            return await flow(**params)

    summary = run_pipeline(server, lambda: on_core(params, settings), in_flow)
    limit = params.get("max_failure_rate")
    problem = summary.problem(settings.max_failure_rate if limit is None else limit)
    if json_out:
        print(summary_json(summary, problem))
    else:
        show(summary)
    if problem:
        if not json_out:  # the JSON says it already ("complete", "problem")
            print(f"payflows {command}: {problem}", file=sys.stderr)
        return 1
    return 0


def pipeline_command(
    flow: Any,
    command: str,
    *,
    on_core: Callable[[dict[str, Any], Any], Awaitable[Any]],
    show: Callable[[Any], None],
    help_text: str,
) -> Callable[..., None]:
    """A typer command whose options are ``flow``'s parameters, plus ``--json``.

    ``on_core(params, settings)`` is the flow's work without Prefect; ``show(summary)`` prints
    the summary for a person.
    """
    import typer

    def run(**values: Any) -> None:
        json_out = values.pop("as_json")
        code = run_pipeline_command(
            flow, command, values, on_core=on_core, show=show, json_out=json_out
        )
        raise typer.Exit(code)

    json_option = inspect.Parameter(
        "as_json",
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")],
    )
    run.__signature__ = inspect.Signature([*_options(flow), json_option])  # type: ignore[attr-defined]
    run.__doc__ = help_text
    run.__name__ = command
    return run


def register_pipeline_command(
    app: Any, command: str, help_text: str, build: Callable[[], Callable[..., None]]
) -> None:
    """Register ``payflows COMMAND`` on ``app``, its options built only when it is invoked.

    Building them imports the flow, and so Prefect: ``payflows --help`` (and every other
    command) stays fast. The arguments go, as given, to a one-command app made by ``build``
    (:func:`pipeline_command`), which parses them, ``--help`` included.
    """
    import typer

    def lazy(ctx: Any) -> None:
        inner = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        inner.command(command, help=help_text)(build())
        inner(list(ctx.args), prog_name=f"{ctx.find_root().info_name} {command}")

    lazy.__annotations__ = {"ctx": typer.Context, "return": None}  # typer finds the context
    app.command(
        command,
        help=help_text,
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(lazy)
