"""The ``csv-inbox-import`` flow on the session's Prefect server: a drop of several files in
one run, the summary artifact, and a failed run when a file was refused whole."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    LogFilter,
    LogFilterFlowRunId,
)

from flows.csv_inbox import InboxFailed, csv_inbox_import
from payflows.ledger.migrate import upgrade
from tasks.inbox import error_artifact_key
from tasks.runtime import dispose_engines
from tests.support.prefect_server import PrefectServer

SAMPLES = Path(__file__).resolve().parents[2] / "data/samples"


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(url)
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", url)
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("PAYFLOWS_INBOX_DIR", str(folder))
    yield folder
    dispose_engines()


def _drop(inbox: Path, name: str, text: str | None = None) -> None:
    target = inbox / name
    if text is None:
        shutil.copy(SAMPLES / name, target)
    else:
        target.write_text(text)
    old = time.time() - 60
    os.utime(target, (old, old))


async def test_one_run_imports_a_whole_drop_in_order(
    prefect_api: PrefectServer, inbox: Path
) -> None:
    for name in ("subscriptions.csv", "payment_methods.csv", "customers.csv"):
        _drop(inbox, name)
    state = await csv_inbox_import(return_state=True)
    result = await state.result()
    assert [f.kind for f in result.files] == ["customers", "payment_methods", "subscriptions"]
    assert {f.outcome for f in result.files} == {"done"} and all(f.inserted for f in result.files)
    assert sorted(p.name.split("-", 1)[1] for p in (inbox / "done").iterdir()) == [
        "customers.csv",
        "payment_methods.csv",
        "subscriptions.csv",
    ]
    async with get_client() as client:
        [artifact] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["csv-inbox-summary"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert [r["outcome"] for r in rows] == ["done", "done", "done"]
    again = await csv_inbox_import(return_state=True)
    assert (await again.result()).files == []  # an empty inbox is a quick, successful run


async def test_a_file_refused_whole_fails_the_run_after_filing_the_others(
    prefect_api: PrefectServer, inbox: Path
) -> None:
    _drop(inbox, "customers.csv")
    _drop(inbox, "mystery.csv", "what,is,this\n1,2,3\n")
    state = await csv_inbox_import(return_state=True)
    assert state.is_failed()
    assert "mystery.csv" in str(state.message)
    assert [p.name.split("-", 1)[1] for p in (inbox / "done").iterdir()] == ["customers.csv"]
    assert sorted(p.name.split("-", 1)[1] for p in (inbox / "failed").iterdir()) == [
        "mystery.csv",
        "mystery.csv.errors.csv",
    ]
    assert state.name == "File refused"
    assert await _logged(state.state_details.flow_run_id, "refused whole", "mystery.csv")
    with pytest.raises(InboxFailed):
        await state.result()


async def _artifacts(**filters: object) -> list:
    async with get_client() as client:
        return await client.read_artifacts(artifact_filter=ArtifactFilter(**filters))


async def test_every_row_error_of_a_file_stays_in_its_own_artifact_after_later_runs(
    prefect_api: PrefectServer, inbox: Path
) -> None:
    for name in ("customers.csv", "payment_methods.csv", "subscriptions_bad_rows.csv"):
        _drop(inbox, name)
    state = await csv_inbox_import(return_state=True)
    result = await state.result()
    [bad] = [f for f in result.files if f.name == "subscriptions_bad_rows.csv"]
    assert bad.rejected > 1 and state.is_completed()
    key = error_artifact_key(Path(bad.moved_to).name)
    empty = await csv_inbox_import(return_state=True)  # the next five-minute run: nothing waits
    assert (await empty.result()).files == []

    [errors] = await _artifacts(key=ArtifactFilterKey(any_=[key]))
    rows = json.loads(errors.data) if isinstance(errors.data, str) else errors.data
    assert len(rows) == bad.rejected and {"line", "column", "reason"} <= set(rows[0])
    assert errors.flow_run_id == state.state_details.flow_run_id
    assert not await _artifacts(
        flow_run_id=ArtifactFilterFlowRunId(any_=[empty.state_details.flow_run_id])
    )
    assert await _logged(state.state_details.flow_run_id, "subscriptions_bad_rows.csv", "refused")


async def _logged(flow_run_id: object, *words: str) -> bool:
    """Logs reach the server in batches: poll for a line with every word."""
    async with get_client() as client:
        for _ in range(120):
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
            if any(all(w in log.message for w in words) for log in logs):
                return True
            await asyncio.sleep(0.5)
    return False
