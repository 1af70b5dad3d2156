"""Tasks of the CSV inbox: list what waits, import one file and move it, show the summary.

One task per file (a drop is a handful of files, not thousands), so the UI shows each file's
import and a failure of one file does not stop the others. Not retried: importing again is
harmless but a refused file would only be refused again; the next scheduled run retries
whatever is still in the inbox.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from payflows.imports.inbox import InboxEntry, file_into, import_file, outcome_of, pending_files
from payflows.settings import load_settings
from tasks.runtime import engine_for

__all__ = ["FiledImport", "import_and_file", "list_inbox", "publish_inbox_summary"]

_OPTIONS = {"persist_result": False, "cache_policy": NO_CACHE}


class FiledImport(BaseModel):
    """One inbox file after its import: where it went and what landed."""

    name: str
    kind: str
    outcome: str
    moved_to: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    error_file: str | None = None
    first_error: str | None = None


@task(name="list-inbox", **_OPTIONS)
def list_inbox(inbox: str, min_age_seconds: float) -> list[InboxEntry]:
    return pending_files(Path(inbox), min_age_seconds=min_age_seconds)


@task(name="import-and-file", task_run_name="import-{entry.path.name}", **_OPTIONS)
async def import_and_file(inbox: str, entry: InboxEntry) -> FiledImport:
    """Import one file in a worker thread, then move it (with its error file) out of the inbox."""
    engine = engine_for(load_settings().database_url)
    result = await asyncio.to_thread(import_file, entry, engine)
    outcome = outcome_of(result)
    moved = await asyncio.to_thread(file_into, Path(inbox), entry.path, outcome)
    first = result.errors[0] if result.errors else None
    return FiledImport(
        name=entry.path.name,
        kind=result.kind,
        outcome=outcome,
        moved_to=str(moved),
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        rejected=result.rejected,
        error_file=str(moved.parent / f"{moved.name}.errors.csv") if result.error_file else None,
        first_error=f"line {first.line} {first.column}: {first.reason}" if first else None,
    )


@task(name="publish-inbox-summary", **_OPTIONS)
async def publish_inbox_summary(inbox: str, filed: list[FiledImport]) -> None:
    """One table row per file: kind, where it went, counts and the first error."""
    done = sum(1 for f in filed if f.outcome == "done")
    await create_table_artifact(
        key="csv-inbox-summary",
        table=[f.model_dump() for f in filed]
        or [{"name": "(no file waiting)", "outcome": "", "moved_to": ""}],
        description=(
            f"`{inbox}`: {len(filed)} file(s) imported, {done} to done/, "
            f"{len(filed) - done} to failed/ (see their .errors.csv)"
        ),
    )
