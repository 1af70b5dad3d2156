"""Tasks of the CSV billing import: the import itself, and its summary in the Prefect UI.

The import runs in a worker thread (it is database and file bound; the flow's event loop stays
free) on the process-wide engine of the ledger. It is not retried: a second run of the same file
is harmless (every write is an upsert), but a file-level error would only fail again. Results
hold counts and the first rejected rows (line, column, reason): never a card number, because the
formats refuse card columns and error messages hide long runs of digits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from payflows.imports import ImportKind, ImportResult, error_file_for, import_csv
from payflows.settings import load_settings
from tasks.runtime import engine_for

__all__ = ["import_csv_file", "publish_import_summary"]

#: Rejected rows shown in the UI; the error CSV has all of them.
SHOWN_ERRORS = 50


@task(name="import-csv-file", persist_result=False, cache_policy=NO_CACHE)
async def import_csv_file(
    path: str, kind: ImportKind | None = None, error_dir: str | None = None
) -> ImportResult:
    """Stream one file into the ledger; bad rows go to ``<error_dir>/<file>.errors.csv``."""
    source = Path(path)
    engine = engine_for(load_settings().database_url)
    error_path = error_file_for(source, Path(error_dir) if error_dir else None)
    return await asyncio.to_thread(
        import_csv, source, engine, kind=kind, error_path=error_path, max_errors=SHOWN_ERRORS
    )


@task(name="publish-import-summary", persist_result=False, cache_policy=NO_CACHE)
async def publish_import_summary(result: ImportResult) -> None:
    """A table artifact of the counts, and one of the rejected rows when there are any."""
    counts = [
        {"metric": name.replace("_", " "), "value": getattr(result, name)}
        for name in ("rows_read", "inserted", "updated", "unchanged", "rejected", "chunks")
    ]
    await create_table_artifact(
        key="csv-import-summary",
        table=counts,
        description=(
            f"**{result.kind}** from `{Path(result.file).name}` in {result.seconds:.1f} s: "
            f"{result.inserted} new, {result.updated} updated, {result.unchanged} unchanged, "
            f"{result.rejected} rejected"
            + (f" (all in `{result.error_file}`)" if result.error_file else "")
        ),
    )
    if result.errors:
        await create_table_artifact(
            key="csv-import-errors",
            table=[error.model_dump() for error in result.errors],
            description=(
                f"First {len(result.errors)} of {result.rejected} rejected rows "
                "(line 1 is the header)."
            ),
        )
