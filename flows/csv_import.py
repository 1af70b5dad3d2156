"""CSV billing import: customers, stored cards, subscriptions or one-off charges from one file.

Every row is validated; good rows land, bad ones are listed (line, column, reason) in the
result, in an error CSV and in a table artifact. Running it again on the same file changes
nothing. A file-level problem (unknown header, a card-number column, not UTF-8) fails the run
with the reason.
"""

from __future__ import annotations

from prefect import flow

from payflows.imports import ImportKind, ImportResult
from tasks import imports as tasks

__all__ = ["csv_billing_import"]

NAME = "csv-billing-import"


@flow(name=NAME, flow_run_name="csv-import", persist_result=False)
async def csv_billing_import(
    path: str, kind: ImportKind | None = None, error_dir: str | None = None
) -> ImportResult:
    """Import ``path`` (kind recognised by its header unless given); errors next to the file
    unless ``error_dir`` is given."""
    result = await tasks.import_csv_file(path, kind, error_dir)
    await tasks.publish_import_summary(result)
    return result
