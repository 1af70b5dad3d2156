"""``payflows sweep`` and ``payflows holds``: the pre-authorisation sweep from the command line.

Registered by :mod:`apps.cli`. Exit codes:

- ``payflows sweep`` (its options are the ``preauth-sweep`` flow's parameters, see
  :mod:`apps.pipeline_mode`): 0 every due hold was resolved, 1 some need a person (alerted,
  expired, outcome unknown, refused, held by a sweep that did not finish: listed, and raised
  as Prefect events) or the failure share passed ``--max-failure-rate`` (default
  ``PAYFLOWS_MAX_FAILURE_RATE``), 2 bad input, configuration error or no Prefect server
  answering at the configured ``PREFECT_API_URL`` (without one configured, the sweep runs on
  the core directly).
- ``payflows holds decide / policy``: 0 recorded (or already so), 1 refused (unknown hold, not
  open, invalid amount: nothing recorded), 2 configuration error.
- ``payflows holds import``: 0 every row landed, 1 some rows rejected (the others landed),
  2 the file was refused as a whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = [
    "SWEEP_HELP",
    "holds_app",
    "print_sweep_summary",
    "sweep_command",
    "sweep_typer_command",
]

SWEEP_HELP = "Capture or void every due hold once, before it lapses. Exit 1 if some need a person."

holds_app = typer.Typer(
    help="Pre-authorisation holds: deadlines, the merchant's decisions, policies.",
    no_args_is_help=True,
)


def _settings() -> Any:
    from payflows.settings import ConfigurationError, load_settings

    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _engine(settings: Any) -> Any:
    from payflows.ledger import make_engine
    from payflows.ledger.migrate import current, head

    if current(settings.database_url) != head():
        typer.echo(
            "payflows holds: the ledger is not up to date (run: payflows db upgrade)", err=True
        )
        raise typer.Exit(2)
    return make_engine(settings.database_url)


async def _sweep_on_core(params: dict[str, Any], settings: Any) -> Any:
    """The flow's work without Prefect: the same sweep, straight on the core."""
    from flows._pipeline import default_worker_id, resolve_as_of
    from payflows.sweep import sweep_holds, windows_from_settings
    from tasks.runtime import payment_context

    async with payment_context(settings) as ctx:
        return await sweep_holds(
            ctx,
            as_of=resolve_as_of(params["as_of"]),
            worker_id=params["worker_id"] or default_worker_id(),
            windows=windows_from_settings(settings),
            default_policy=settings.hold_default_policy,
            concurrency=params["concurrency"],
            batch_size=params["batch_size"],
            limit=params["limit"],
            reconcile_all=params["reconcile_all"],
        )


def print_sweep_summary(summary: Any) -> None:
    from payflows.domain.money import format_amount

    print(
        f"swept at {summary.as_of.isoformat()}: {summary.selected} due, "
        f"{summary.captured} captured, {summary.partially_captured} partially captured, "
        f"{summary.voided} voided, {summary.reconciled} reconciled, {summary.expired} expired, "
        f"{summary.alerted} alerted, {summary.unknown} unknown, {summary.failed} failed, "
        f"in {summary.seconds:.1f}s"
    )
    for cur, cents in sorted(summary.captured_cents.items()):
        print(f"  captured {format_amount(cents, cur)}")
    for cur, cents in sorted(summary.released_cents.items()):
        print(f"  released {format_amount(cents, cur)}")
    for u in summary.unresolved:
        print(
            f"  needs a person: {u.purchase_id} {u.action} (deadline "
            f"{u.expires_at.isoformat()}): {u.reason}"
        )
    for reason, n in sorted(summary.left.items()):
        print(f"  LEFT {n}: {reason}")


def sweep_command(json_out: bool = False, **options: Any) -> int:
    """Sweep once (the ``preauth-sweep`` flow with a Prefect server, else the core), print the
    summary, return the exit code. ``options`` are some of the flow's parameters."""
    from apps.pipeline_mode import run_pipeline_command
    from flows.sweep import preauth_sweep

    return run_pipeline_command(
        preauth_sweep,
        "sweep",
        options,
        on_core=_sweep_on_core,
        show=print_sweep_summary,
        json_out=json_out,
    )


def sweep_typer_command() -> Any:
    """``payflows sweep``, its options made from the flow's parameters."""
    from apps.pipeline_mode import pipeline_command
    from flows.sweep import preauth_sweep

    return pipeline_command(
        preauth_sweep,
        "sweep",
        on_core=_sweep_on_core,
        show=print_sweep_summary,
        help_text=(
            "Capture or void every due hold once, before it lapses. Exit 1 if some need a person."
        ),
    )


@holds_app.command("list")
def list_command(
    all_holds: Annotated[
        bool, typer.Option("--all", help="Also holds already captured, voided or expired.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many, soonest deadline first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print the holds as JSON.")] = False,
) -> None:
    """Open holds with their deadline, act-by time, decision and policy."""
    from payflows.domain.money import format_amount
    from payflows.ledger import UnitOfWork
    from payflows.sweep import hold_view, open_holds, windows_from_settings

    settings = _settings()
    engine = _engine(settings)
    windows = windows_from_settings(settings)
    try:
        with UnitOfWork(engine) as uow:
            views = [
                hold_view(h, windows, settings.hold_default_policy)
                for h in open_holds(uow, limit=limit, include_closed=all_holds)
            ]
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([v.model_dump(mode="json") for v in views], indent=2))
        return
    if not views:
        typer.echo("no open holds")
        return
    for v in views:
        decision = v.decision
        if v.decision == "capture" and v.decision_cents is not None:
            decision += f" {format_amount(v.decision_cents, v.currency)}"
        typer.echo(
            f"{v.purchase_id}  {v.status:8} {v.brand or '-':10} "
            f"{format_amount(v.authorised_cents, v.currency):>14}  "
            f"deadline {v.expires_at:%Y-%m-%d %H:%M}Z  act by {v.act_by:%Y-%m-%d %H:%M}Z  "
            f"decision {decision}  policy {v.effective_policy}"
            + ("  NEEDS ATTENTION" if v.needs_attention else "")
        )


def _refused(exc: Exception) -> None:
    typer.echo(f"payflows holds: {exc}", err=True)
    raise typer.Exit(1)


@holds_app.command("decide")
def decide_command(
    purchase_id: Annotated[str, typer.Argument(help="The hold's purchase id.")],
    capture: Annotated[
        bool, typer.Option("--capture", help="Fulfilled: capture at the next sweep.")
    ] = False,
    amount: Annotated[
        str | None,
        typer.Option(help="With --capture: the amount, e.g. 12.34 (default: all authorised)."),
    ] = None,
    void: Annotated[
        bool, typer.Option("--void", help="Cancelled: void at the next sweep.")
    ] = False,
    clear: Annotated[bool, typer.Option("--clear", help="No decision yet.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hold as JSON.")] = False,
) -> None:
    """Record the merchant's decision on a hold: --capture [--amount X], --void or --clear."""
    from payflows.domain.money import parse_form_amount
    from payflows.ledger import UnitOfWork
    from payflows.ledger.models import Hold
    from payflows.sweep import DecisionRefused, decide, hold_view, windows_from_settings

    if capture + void + clear != 1:
        typer.echo(
            "payflows holds decide: give exactly one of --capture, --void, --clear", err=True
        )
        raise typer.Exit(2)
    if amount is not None and not capture:
        typer.echo("payflows holds decide: --amount goes with --capture", err=True)
        raise typer.Exit(2)
    settings = _settings()
    engine = _engine(settings)
    try:
        with UnitOfWork(engine) as uow:
            cents = None
            if amount is not None:
                from sqlalchemy import select

                hold = (
                    uow.session.execute(select(Hold).where(Hold.purchase_id == purchase_id))
                    .scalars()
                    .first()
                )
                currency = hold.currency if hold is not None else "ZAR"
                try:  # the forms' rule, as the operator page's hold decision
                    cents = parse_form_amount(amount, currency)
                except ValueError as exc:
                    _refused(ValueError(f"--amount: {exc}"))
            choice = "capture" if capture else "void" if void else "none"
            try:
                hold, changed = decide(uow, purchase_id, choice, cents)
            except DecisionRefused as exc:
                _refused(exc)
            uow.commit()
            view = hold_view(hold, windows_from_settings(settings), settings.hold_default_policy)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
    else:
        what = "recorded" if changed else "unchanged"
        typer.echo(f"{purchase_id}: decision {view.decision} {what}; the next sweep acts on it")


@holds_app.command("policy")
def policy_command(
    purchase_id: Annotated[str, typer.Argument(help="The hold's purchase id.")],
    policy: Annotated[
        str, typer.Argument(help="capture, void, alert, or default (the merchant's default).")
    ],
    extended: Annotated[
        bool | None,
        typer.Option(
            "--extended/--not-extended",
            help="The acquirer extended this authorisation (moves its deadline).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hold as JSON.")] = False,
) -> None:
    """What the sweep does with this hold if still undecided at its act-by time."""
    from payflows.ledger import UnitOfWork
    from payflows.sweep import DecisionRefused, hold_view, set_policy, windows_from_settings

    settings = _settings()
    engine = _engine(settings)
    windows = windows_from_settings(settings)
    try:
        with UnitOfWork(engine) as uow:
            try:
                hold, changed = set_policy(
                    uow, purchase_id, policy, extended=extended, windows=windows
                )
            except DecisionRefused as exc:
                _refused(exc)
            uow.commit()
            view = hold_view(hold, windows, settings.hold_default_policy)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
    else:
        what = "recorded" if changed else "unchanged"
        typer.echo(
            f"{purchase_id}: policy {view.effective_policy} {what}; "
            f"deadline {view.expires_at.isoformat()}, act by {view.act_by.isoformat()}"
        )


@holds_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV: purchase_id, decision, amount, policy.")],
    errors: Annotated[
        Path | None,
        typer.Option(help="Where to write rejected rows (default: FILE.errors.csv beside it)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Decisions and policies for many holds from a CSV file."""
    from apps.imports_cli import print_summary
    from payflows.csvfiles import FileError, error_file_for
    from payflows.sweep import import_decisions

    settings = _settings()
    engine = _engine(settings)
    try:
        result = import_decisions(file, engine, error_path=errors or error_file_for(file))
    except FileError as exc:
        if as_json:
            typer.echo(json.dumps({"file": str(file), "error": str(exc)}))
        else:
            typer.echo(f"payflows holds import: {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        print_summary(result)
    raise typer.Exit(0 if result.rejected == 0 else 1)
