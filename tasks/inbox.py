"""Tasks of the CSV inbox: list what waits, import one file and move it, show the summary.

One task per file (a drop is a handful of files, not thousands), so the UI shows each file's
import and a failure of one file does not stop the others. Not retried: importing again is
harmless but a refused file would only be refused again; the next scheduled run retries
whatever is still in the inbox.
"""

from __future__ import annotations

import asyncio
import csv
import re
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from payflows.imports.inbox import InboxEntry, file_into, import_file, outcome_of, pending_files
from payflows.settings import load_settings
from tasks.runtime import engine_for

__all__ = [
    "ERROR_ROWS_SHOWN",
    "FiledImport",
    "error_artifact_key",
    "import_and_file",
    "list_inbox",
    "publish_inbox_summary",
]

_OPTIONS = {"persist_result": False, "cache_policy": NO_CACHE}
#: Row errors shown per file in its artifact; the error CSV beside the file has them all.
ERROR_ROWS_SHOWN = 1_000


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

    @property
    def refused_whole(self) -> bool:
        """Nothing of the file landed: wrong header, unknown kind, card data..."""
        return self.outcome == "failed" and self.rejected == 0


def error_artifact_key(moved_name: str) -> str:
    """``csv-errors-<file as filed>``: one key per dropped file, so no later run overwrites it."""
    slug = re.sub(r"[^a-z0-9]+", "-", moved_name.lower()).strip("-")
    return f"csv-errors-{slug}"[:200]


def _error_rows(error_file: Path) -> list[dict[str, str]]:
    with error_file.open(newline="", encoding="utf-8") as handle:
        rows = []
        for row in csv.DictReader(handle):
            rows.append({k: row.get(k) or "" for k in ("line", "column", "reason")})
            if len(rows) >= ERROR_ROWS_SHOWN:
                break
        return rows


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
    filed = FiledImport(
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
    await _report_errors(filed, moved)
    return filed


async def _report_errors(filed: FiledImport, moved: Path) -> None:
    """A file with errors: a log line an automation can match, and its rows in an artifact."""
    if filed.error_file is None:
        return
    logger = get_run_logger()
    if filed.refused_whole:
        logger.error("CSV file refused whole: %s (%s)", filed.name, filed.first_error)
    else:
        logger.warning(
            "CSV file %s: %d row(s) refused, first %s",
            filed.name,
            filed.rejected,
            filed.first_error,
        )
    error_file = Path(filed.error_file)
    rows = await asyncio.to_thread(_error_rows, error_file) if error_file.exists() else []
    await create_table_artifact(
        key=error_artifact_key(moved.name),
        table=rows or [{"line": "", "column": "", "reason": filed.first_error or ""}],
        description=(
            f"`{filed.name}` ({filed.kind}) moved to {filed.outcome}/: {filed.rejected} row(s) "
            f"refused{' (file refused whole)' if filed.refused_whole else ''}; all of them in "
            f"`{error_file.name}`"
        ),
    )


@task(name="publish-inbox-summary", **_OPTIONS)
async def publish_inbox_summary(inbox: str, filed: list[FiledImport]) -> None:
    """One table row per file: kind, where it went, counts and the first error.

    An empty inbox publishes nothing, so the five-minute runs do not bury the last real drop
    under empty versions of the artifact.
    """
    if not filed:
        return
    done = sum(1 for f in filed if f.outcome == "done")
    await create_table_artifact(
        key="csv-inbox-summary",
        table=[f.model_dump() for f in filed],
        description=(
            f"`{inbox}`: {len(filed)} file(s) imported, {done} to done/, "
            f"{len(filed) - done} to failed/ (see their .errors.csv)"
        ),
    )
