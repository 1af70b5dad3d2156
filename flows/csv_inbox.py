"""The CSV inbox as a Prefect flow (``csv-inbox-import``), deployed on an interval.

Every CSV dropped in ``PAYFLOWS_INBOX_DIR`` (default ``data/inbox``) is imported in dependency
order and moved to ``done/`` or ``failed/`` (with its ``.errors.csv``); the rules are in
:mod:`payflows.imports.inbox`. An empty inbox is a quick, successful run. The run fails when
a file could not be imported whole, so an automation on failed runs reaches a person; files with
only some rejected rows still complete (their good rows landed) and are listed in the summary.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed, State
from pydantic import BaseModel, ConfigDict, Field

from payflows.settings import inbox_dir
from tasks import inbox as tasks
from tasks.inbox import FiledImport

__all__ = ["InboxFailed", "InboxRequest", "InboxResult", "csv_inbox_import"]

NAME = "csv-inbox-import"


class InboxRequest(BaseModel):
    """Parameters of an inbox run (defaults suit the schedule)."""

    model_config = ConfigDict(extra="forbid")

    inbox_dir: str | None = Field(default=None, description="Default: PAYFLOWS_INBOX_DIR.")
    min_age_seconds: float = Field(
        default=5.0, ge=0, description="Leave files changed more recently (still copying)."
    )


class InboxResult(BaseModel):
    inbox_dir: str
    files: list[FiledImport]


class InboxFailed(Exception):
    """Some file was refused whole: the run fails so that alerting sees it."""


@flow(name=NAME, persist_result=False)
async def csv_inbox_import(params: InboxRequest | None = None) -> InboxResult | State[Any]:
    """Import every CSV waiting in the inbox, then file each into done/ or failed/.

    A file refused whole ends the run in a Failed state named ``File refused`` (its error is
    :class:`InboxFailed`, raised again by an in-process caller's ``result()``).
    """
    params = params or InboxRequest()
    inbox = params.inbox_dir or inbox_dir()
    entries = tasks.list_inbox(inbox, params.min_age_seconds)
    filed = [await tasks.import_and_file(inbox, entry) for entry in entries]
    await tasks.publish_inbox_summary(inbox, filed)
    result = InboxResult(inbox_dir=inbox, files=filed)
    refused = [f for f in filed if f.refused_whole]
    if refused:
        names = ", ".join(f"{f.name} ({f.first_error})" for f in refused)
        message = f"refused whole, moved to failed/: {names}"
        get_run_logger().error("inbox run failed: %s", message)
        return Failed(name="File refused", message=message, data=InboxFailed(message))
    return result
