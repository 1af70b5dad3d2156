"""The ``payflows`` command line.

Each command reads the settings once, so a missing or malformed value stops it at start with one
line naming the variable (exit code 2) instead of a traceback halfway through.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from payflows import __version__
from payflows.settings import ConfigurationError, Settings, load_settings

app = typer.Typer(
    help="Payment-operations pipelines for merchants on Precium's S2S card API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The ledger database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _add_run_commands() -> None:
    from apps.cli_run import app as run_app
    from apps.imports_cli import import_command
    from apps.web.cli import app as web_app

    app.command("import", help="Import customers, cards, subscriptions or charges from a CSV.")(
        import_command
    )
    app.add_typer(run_app, name="run")
    app.add_typer(
        web_app, name="web", help="The merchant's web app: webhooks, 3DS return, checkout."
    )


_add_run_commands()


def _add_deployment_commands() -> None:
    from apps.deployments_cli import register

    register(app)


_add_deployment_commands()


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def version() -> None:
    """Print the payflows version."""
    typer.echo(__version__)


@app.command()
def config() -> None:
    """Show the effective configuration (keys, tokens and database passwords masked)."""
    settings = _settings()
    for name, shown in settings.shown().items():
        typer.echo(f"{name.upper():34} {shown}")


@app.command()
def demo(
    workspace: Annotated[
        Path | None,
        typer.Option(help="Folder for the day's ledger, inbox and reports (default: a new one)."),
    ] = None,
) -> None:
    """The main job: a whole business day on the built-in sandbox, step by step.

    Imports the sample CSVs, runs every S2S scenario, bills due subscriptions, sweeps holds,
    moves the sandbox clock so the day settles, and builds the settlement report.
    """
    from apps.business_day import run_business_day
    from apps.samples import samples_dir

    settings = _settings()
    try:
        samples_dir(settings)  # a missing samples folder stops the day before anything starts
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    sys.exit(run_business_day(settings, workspace))


@app.command()
def sandbox(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (loopback by default).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8400).")] = None,
    state_file: Annotated[
        Path | None, typer.Option(help="JSON file that keeps the sandbox's state across restarts.")
    ] = None,
    faults: Annotated[
        Path | None, typer.Option(help='JSON file of fault rules: {"rules": [...]}.')
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for fault injection.")] = None,
) -> None:
    """Serve the built-in Precium sandbox (the emulated gateway) over HTTP."""
    from payflows.sandbox import SandboxConfig, serve

    settings = _settings()
    config = SandboxConfig.from_settings(settings)
    if state_file is not None:
        config.state_file = state_file
    if seed is not None:
        config.seed = seed
    if faults is not None:
        try:
            config.faults = list(json.loads(faults.read_text())["rules"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            typer.echo(f"payflows: --faults {faults}: {exc}", err=True)
            raise typer.Exit(2) from None
    bind_host = host or settings.sandbox_host
    bind_port = port or settings.sandbox_port
    typer.echo(f"Precium sandbox on http://{bind_host}:{bind_port}/api/v1/ (Ctrl-C stops it)")
    serve(config, host=bind_host, port=bind_port)


def _add_pipeline_commands() -> None:
    """``payflows bill`` and ``payflows sweep``: options made from their flows' parameters,
    when the command runs (the flows load Prefect)."""
    from apps.billing_cli import BILL_HELP, bill_typer_command
    from apps.pipeline_mode import register_pipeline_command
    from apps.sweep_cli import SWEEP_HELP, sweep_typer_command

    register_pipeline_command(app, "bill", BILL_HELP, bill_typer_command)
    register_pipeline_command(app, "sweep", SWEEP_HELP, sweep_typer_command)


_add_pipeline_commands()


@app.command()
def report(
    date_from: Annotated[
        str | None,
        typer.Option("--from", help="First day YYYY-MM-DD (default: --to, else yesterday)."),
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last day YYYY-MM-DD, inclusive (default: --from).")
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="The merchant's time zone (default PAYFLOWS_TIMEZONE)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="The report's 'now' (ISO; default now, UTC).")
    ] = None,
    reconcile: Annotated[
        bool, typer.Option(help="Compare every purchase of the period with the gateway.")
    ] = True,
    track_settlement: Annotated[
        bool, typer.Option(help="Record the settlement the gateway reports while reconciling.")
    ] = True,
    output_dir: Annotated[
        str | None, typer.Option(help="Base folder (default PAYFLOWS_REPORTS_DIR).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Settlement report and reconciliation of a period. Exit 1 if mismatches were found."""
    from apps.reports_cli import report_command

    _settings()
    try:
        code = report_command(
            date_from=date_from,
            date_to=date_to,
            timezone=tz,
            as_of=as_of,
            reconcile=reconcile,
            track_settlement=track_settlement,
            output_dir=output_dir,
            json_out=as_json,
        )
    except ValueError as exc:
        typer.echo(f"payflows report: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or migrate the ledger schema (Alembic) to REVISION."""
    from payflows.ledger.migrate import current, upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"ledger at revision {current(settings.database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the ledger's schema revision."""
    from payflows.ledger.migrate import current

    typer.echo(current(_settings().database_url) or "empty (run: payflows db upgrade)")


@app.command()
def settle(
    older_than: Annotated[
        float, typer.Option(help="Only attempts untouched for this many seconds.")
    ] = 30,
    limit: Annotated[int, typer.Option(help="At most this many attempts this pass.")] = 500,
) -> None:
    """Read back single payments left in flight (what the settle-unresolved flow does).

    Exit 1, naming each purchase, while one stays unknown or needs a person."""
    import asyncio
    from datetime import timedelta

    from payflows.ledger.migrate import upgrade
    from payflows.payments import settle_unresolved
    from tasks.runtime import payment_context

    settings = _settings()
    upgrade(settings.database_url)

    async def one_pass() -> Any:
        async with payment_context(settings) as ctx:
            return await settle_unresolved(
                ctx, older_than=timedelta(seconds=older_than), limit=limit
            )

    summary = asyncio.run(one_pass())
    settled = ", ".join(f"{n} {state}" for state, n in sorted(summary.settled.items()))
    typer.echo(f"examined {summary.examined}; settled: {settled or 'none'}")
    for key, pid in summary.unknown:
        typer.echo(f"still unknown after read-back: purchase {pid} ({key})")
    for key, pid in summary.left:
        typer.echo(f"not settled here, a person must look: purchase {pid} ({key})")
    raise typer.Exit(0 if summary.complete else 1)


def _add_card_commands() -> None:
    from apps.cards_cli import register

    register(app)


_add_card_commands()


def _add_holds_commands() -> None:
    from apps.sweep_cli import holds_app

    app.add_typer(holds_app, name="holds")


_add_holds_commands()


if __name__ == "__main__":  # pragma: no cover
    app()
