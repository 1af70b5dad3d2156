"""CSV billing import: customers, stored cards, subscriptions or one-off charges from one file.

Every row is validated; good rows land, bad ones are listed (line, column, reason) in the
result, in an error CSV and in a table artifact. Running it again on the same file changes
nothing. A file-level problem (unknown header, a card-number column, not UTF-8) fails the run
with the reason.
"""

from __future__ import annotations

from typing import Annotated, get_args

from prefect import flow
from pydantic import Field

from flows._empty import EMPTY_IS_NONE, empty_default, text_schema
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
        EMPTY_IS_NONE,
        text_schema(enum=list(get_args(ImportKind))),  # a dropdown, its first choice empty
        empty_default(),
        described(description="What the file holds; empty: recognised by its header row."),
    ] = None,
    error_dir: Annotated[
        str | None,
        Field(max_length=500),
        EMPTY_IS_NONE,
        text_schema(max_length=500),
        empty_default(),
        described(
            description=technical("folder of the rejected rows' CSV; empty: beside the file.")
        ),
    ] = None,
) -> ImportResult:
    """Import ``path`` (kind recognised by its header unless given); errors next to the file
    unless ``error_dir`` is given."""
    result = await tasks.import_csv_file(path, kind, error_dir)
    await tasks.publish_import_summary(result)
    return result
