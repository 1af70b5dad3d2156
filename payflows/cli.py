"""The ``payflows`` command line.

Each command reads the settings once, so a missing or malformed value stops it at start with one
line naming the variable (exit code 2) instead of a traceback halfway through.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

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
    from payflows.cli_run import app as run_app
    from payflows.imports.cli import import_command
    from payflows.web.cli import app as web_app

    app.command("import", help="Import customers, cards, subscriptions or charges from a CSV.")(
        import_command
    )
    app.add_typer(run_app, name="run")
    app.add_typer(
        web_app, name="web", help="The merchant's web app: webhooks, 3DS return, checkout."
    )


_add_run_commands()


def _add_deployment_commands() -> None:
    from payflows.deployments.cli import register

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
    """Show the effective configuration (keys masked)."""
    settings = _settings()
    for name, value in settings.model_dump().items():
        shown = "********" if name.endswith("_key") and value else value
        typer.echo(f"{name.upper():34} {shown}")


@app.command()
def demo() -> None:
    """Run the main job on embedded defaults: sandbox, ledger and the first payments."""
    from payflows.demo import run_demo

    settings = _settings()
    sys.exit(run_demo(settings))


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


@app.command()
def bill(
    as_of: Annotated[
        str | None, typer.Option(help="Bill what is due at this time (ISO; default now, UTC).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Subscriptions claimed per batch.")] = 500,
    concurrency: Annotated[int, typer.Option(help="Charges in flight at once.")] = 32,
    catch_up: Annotated[
        bool, typer.Option(help="Bill each missed period in turn instead of the latest only.")
    ] = False,
    worker_id: Annotated[
        str | None, typer.Option(help="Stable id of this billing worker (claims are leased).")
    ] = None,
    rate_per_second: Annotated[
        float | None, typer.Option(help="Cap on charges per second toward the gateway.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Charge every due subscription once (MIT), with dunning. Exit 1 if outcomes stay unknown."""
    from payflows.billing.cli import bill_command

    _settings()
    code = bill_command(
        as_of=as_of,
        json_out=as_json,
        batch_size=batch_size,
        concurrency=concurrency,
        catch_up=catch_up,
        worker_id=worker_id,
        rate_per_second=rate_per_second,
    )
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


if __name__ == "__main__":  # pragma: no cover
    app()
