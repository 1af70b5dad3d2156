"""The CSV inbox as a Prefect flow (``csv-inbox-import``), deployed on an interval.

Every CSV dropped in ``PAYFLOWS_INBOX_DIR`` (default ``data/inbox``) is imported in dependency
order and moved to ``done/`` or ``failed/`` (with its ``.errors.csv``); the rules are in
:mod:`payflows.imports.inbox`. An empty inbox is a quick, successful run. The run fails when
a file could not be imported whole, so an automation on failed runs reaches a person; files with
only some rejected rows still complete (their good rows landed) and are listed in the summary.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.states import Failed, State
from pydantic import BaseModel, Field

from flows._empty import EMPTY_IS_NONE, empty_default, text_schema
from flows._fields import described
from flows._pipeline import pipeline_run_name, technical
from payflows.settings import inbox_dir as default_inbox_dir
from tasks import inbox as tasks
from tasks.inbox import FiledImport

__all__ = ["InboxFailed", "InboxResult", "csv_inbox_import"]

NAME = "csv-inbox-import"


class InboxResult(BaseModel):
    inbox_dir: str
    files: list[FiledImport]


class InboxFailed(Exception):
    """Some file was refused whole: the run fails so that alerting sees it."""


@flow(name=NAME, flow_run_name=pipeline_run_name("inbox"), persist_result=False)
async def csv_inbox_import(
    inbox_dir: Annotated[
        str | None,
        Field(max_length=500),
        EMPTY_IS_NONE,
        text_schema(max_length=500),
        empty_default(),
        described(description="The folder to import from; empty: PAYFLOWS_INBOX_DIR (data/inbox)."),
    ] = None,
    min_age_seconds: Annotated[
        float,
        described(
            ge=0,
            description=technical(
                "leave files changed more recently than this (still being copied) for the next run."
            ),
        ),
    ] = 5.0,
) -> InboxResult | State[Any]:
    """Import every CSV waiting in the inbox, then file each into done/ or failed/.

    A file refused whole ends the run in a Failed state named ``File refused`` (its error is
    :class:`InboxFailed`, raised again by an in-process caller's ``result()``).
    """
    inbox = inbox_dir or default_inbox_dir()
    entries = tasks.list_inbox(inbox, min_age_seconds)
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
