"""``payflows import FILE``: the CSV billing import from the command line, without Prefect.

Register with ``app.command("import")(import_command)``. Exit codes: 0 every row landed,
1 some rows were rejected (the others landed), 2 the file was refused as a whole (or the
configuration is wrong): nothing from it was written, 3 the import could not go on half way
(the rows before that point landed; importing again after the fix is harmless).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from payflows.imports.core import error_file_for, import_csv
from payflows.imports.formats import FileError, ImportStopped
from payflows.imports.results import ImportResult

__all__ = ["Kind", "import_command", "print_summary"]


class Kind(StrEnum):
    customers = "customers"
    payment_methods = "payment_methods"
    subscriptions = "subscriptions"
    one_off_charges = "one_off_charges"


#: Rejected rows printed; the error CSV has all of them.
SHOWN = 20


def print_summary(result: ImportResult) -> None:
    typer.echo(
        f"{result.kind} from {result.file}: {result.rows_read} rows read, "
        f"{result.inserted} new, {result.updated} updated, {result.unchanged} unchanged, "
        f"{result.rejected} rejected ({result.seconds:.1f} s)"
    )
    for error in result.errors[:SHOWN]:
        column = error.column or "-"
        typer.echo(f"  line {error.line}, column {column}: {error.reason}")
    if result.rejected > SHOWN:
        typer.echo(f"  ... and {result.rejected - SHOWN} more")
    if result.error_file:
        typer.echo(f"rejected rows: {result.error_file}")


def import_command(
    file: Annotated[Path, typer.Argument(help="The CSV file.", show_default=False)],
    kind: Annotated[
        Kind | None,
        typer.Option(help="What the file holds (default: recognised by its header)."),
    ] = None,
    errors: Annotated[
        Path | None,
        typer.Option(help="Where to write rejected rows (default: FILE.errors.csv beside it)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Import customers, stored cards, subscriptions or one-off charges from a CSV file."""
    from payflows.ledger import make_engine
    from payflows.ledger.migrate import current, head
    from payflows.settings import ConfigurationError, load_settings

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        typer.echo(f"payflows: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    if current(settings.database_url) != head():
        typer.echo(
            "payflows import: the ledger is not up to date (run: payflows db upgrade)", err=True
        )
        raise typer.Exit(2)
    engine = make_engine(settings.database_url)
    try:
        result = import_csv(
            file,
            engine,
            kind=kind.value if kind is not None else None,  # type: ignore[arg-type]
            error_path=errors or error_file_for(file),
        )
    except FileError as exc:
        if json_out:
            typer.echo(json.dumps({"file": str(file), "error": str(exc)}))
        else:
            typer.echo(f"payflows import: {file}: {exc}", err=True)
        raise typer.Exit(3 if isinstance(exc, ImportStopped) else 2) from None
    finally:
        engine.dispose()
    if json_out:
        typer.echo(result.model_dump_json(indent=2))
    else:
        print_summary(result)
    raise typer.Exit(0 if result.rejected == 0 else 1)
