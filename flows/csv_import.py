"""CSV billing import: customers, stored cards, subscriptions or one-off charges from one file.

Every row is validated; good rows land, bad ones are listed (line, column, reason) in the
result, in an error CSV and in a table artifact. Running it again on the same file changes
nothing. A file-level problem (unknown header, a card-number column, not UTF-8) fails the run
with the reason.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow

from flows._fields import described
from flows._pipeline import technical
from payflows.imports import ImportKind, ImportResult
from tasks import imports as tasks

__all__ = ["csv_billing_import"]

NAME = "csv-billing-import"


@flow(name=NAME, flow_run_name="csv-import", persist_result=False)
async def csv_billing_import(
    path: Annotated[
        str,
        described(
            min_length=1,
            max_length=500,
            description="The CSV file to import, as the flow's worker sees it (a path).",
        ),
    ],
    kind: Annotated[
        ImportKind | None,
        described(description="What the file holds; default: recognised by its header row."),
    ] = None,
    error_dir: Annotated[
        str | None,
        described(
            max_length=500,
            description=technical("folder of the rejected rows' CSV; default: beside the file."),
        ),
    ] = None,
) -> ImportResult:
    """Import ``path`` (kind recognised by its header unless given); errors next to the file
    unless ``error_dir`` is given."""
    result = await tasks.import_csv_file(path, kind, error_dir)
    await tasks.publish_import_summary(result)
    return result
