"""``payflows serve``, ``payflows up`` and ``payflows deployments ...``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from payflows.settings import ConfigurationError, Settings, load_settings

__all__ = ["register"]

deployments_app = typer.Typer(
    help="The deployment catalog: list it, or write prefect.yaml from it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


Limit = Annotated[int, typer.Option(help="Flow runs at most at once in this process.")]


def serve(
    limit: Limit = 4,
    no_schedules: Annotated[
        bool, typer.Option("--no-schedules", help="Manual runs only: register no schedule.")
    ] = False,
) -> None:
    """Serve every deployment, with its schedule, from this process (PREFECT_API_URL)."""
    from deployments.serve import serve_catalog

    _settings()
    serve_catalog(limit=limit, schedules=not no_schedules)


def up(
    prefect_port: Annotated[
        int, typer.Option(help="Port of the Prefect server started here (UI and API).")
    ] = 4200,
    prefect_home: Annotated[
        Path, typer.Option(help="PREFECT_HOME of that server (its database, its UI build).")
    ] = Path("data/prefect"),
    log_dir: Annotated[Path, typer.Option(help="Where each part writes its log.")] = Path(
        "data/logs"
    ),
    limit: Limit = 4,
) -> None:
    """Start the whole local stack: Prefect server, sandbox, web app, served deployments."""
    from apps.up import run_up

    settings = _settings()
    code = run_up(
        settings,
        prefect_port=prefect_port,
        prefect_home=prefect_home,
        log_dir=log_dir,
        limit=limit,
        echo=lambda line: typer.echo(line),
    )
    raise typer.Exit(code)


@deployments_app.command("list")
def list_deployments() -> None:
    """Every deployment of the catalog: name, schedule, and whether this checkout has its flow."""
    from deployments.catalog import CATALOG

    for spec in CATALOG:
        state = "" if spec.missing is None else f"  (not here: {spec.missing})"
        quick = "quick run" if spec.quick_run else "needs parameters"
        typer.echo(f"{spec.full_name:42} {spec.schedule_text:44} {quick}{state}")


@deployments_app.command("yaml")
def yaml_command(
    work_pool: Annotated[str | None, typer.Option(help="Work pool of every deployment.")] = None,
) -> None:
    """Print prefect.yaml for the catalog (payflows deployments yaml > prefect.yaml)."""
    from deployments.catalog import DEFAULT_WORK_POOL
    from deployments.render import prefect_yaml

    sys.stdout.write(prefect_yaml(work_pool or DEFAULT_WORK_POOL))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("up")(up)
    app.add_typer(deployments_app, name="deployments")
