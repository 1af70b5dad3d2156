"""The ``preauth-sweep`` flow on the session's Prefect server; ``payflows sweep`` and ``holds``."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
)
from prefect.client.schemas.sorting import FlowRunSort
from typer.testing import CliRunner

from apps.cli import app
from flows import ALL_FLOWS
from flows.sweep import preauth_sweep
from payflows.exactly_once import RunIncomplete
from tasks.sweep import UNRESOLVED_ARTIFACT, UNRESOLVED_EVENT, summary_rows

from .conftest import DAY, World


async def last_run_state(flow_name: str) -> tuple[str, str]:
    """The type and message of the newest run of ``flow_name`` on the session's server."""
    async with get_client() as client:
        [run] = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    assert run.state is not None
    message = run.state.message or ""
    return run.state.type.value, message


async def unresolved_events(api_url: str, purchase_id: str) -> list[dict]:
    async with httpx.AsyncClient() as http:
        for _ in range(50):
            response = await http.post(
                f"{api_url.rstrip('/')}/events/filter",
                json={
                    "filter": {
                        "event": {"name": [UNRESOLVED_EVENT]},
                        "resource": {"id": [f"payflows.hold.{purchase_id}"]},
                    },
                    "limit": 10,
                },
            )
            assert response.status_code == 200, response.text
            events = response.json()["events"]
            if events:
                return events
            await asyncio.sleep(0.2)
    return []


async def test_flow_sweeps_and_publishes_artifacts_and_an_event_per_unresolved_hold(
    flow_world: World, prefect_api
):
    world = flow_world
    assert "preauth-sweep" in ALL_FLOWS
    captured = await world.hold("visa_cit")
    partial = await world.hold("mastercard")
    voided = await world.hold("amex")
    alerted = await world.hold("visa_mit")
    world.decide(captured, "capture")
    world.decide(partial, "capture", 2500)
    world.decide(voided, "void")
    world.policy(alerted, "alert")
    await world.advance(4 * DAY + 60)  # the MIT hold (5 days) is at its act-by time
    with pytest.raises(RunIncomplete, match="sweep not complete: 1 due item") as failed:
        await preauth_sweep(as_of=await world.now(), concurrency=4)
    summary = failed.value.summary  # a hold a person must look at: the run is not green
    state, message = await last_run_state("preauth-sweep")
    assert state == "FAILED" and str(failed.value) in message
    assert (summary.captured, summary.partially_captured, summary.voided) == (1, 1, 1)
    assert summary.alerted == 1 and summary.unresolved[0].purchase_id == alerted
    assert summary.captured_cents == {"ZAR": 12_500}
    assert summary.released_cents == {"ZAR": 17_500}
    rows = {r["item"]: r["value"] for r in summary_rows(summary)}
    assert rows["partially_captured"] == "1" and "125.00" in rows["captured ZAR"]
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(
                    any_=["preauth-sweep-summary", UNRESOLVED_ARTIFACT, "preauth-sweep-progress"]
                )
            )
        )
    assert {a.key for a in artifacts} == {
        "preauth-sweep-summary",
        UNRESOLVED_ARTIFACT,
        "preauth-sweep-progress",
    }
    table = next(a for a in artifacts if a.key == UNRESOLVED_ARTIFACT).data
    assert alerted in json.dumps(table)
    [event] = (await unresolved_events(prefect_api.api_url, alerted))[:1]
    assert event["payload"]["action"] == "alerted" and event["payload"]["brand"] == "visa"
    with pytest.raises(RunIncomplete) as again:
        await preauth_sweep(as_of=await world.now())
    assert again.value.summary.acted == 0 and again.value.summary.alerted == 1


async def test_cli_decide_list_import_and_sweep(flow_world: World, tmp_path):
    world = flow_world
    a, b, c = [await world.hold("maestro") for _ in range(3)]
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    assert run("holds", "decide", a, "--capture", "--amount", "40.00").exit_code == 0
    refused = run("holds", "decide", a, "--capture", "--amount", "400.00")
    assert refused.exit_code == 1 and "cannot capture 40000 cents" in refused.output
    assert run("holds", "decide", a, "--void", "--capture").exit_code == 2
    assert run("holds", "policy", b, "alert").exit_code == 0
    listed = run("holds", "list", "--json")
    views = {v["purchase_id"]: v for v in json.loads(listed.output)}
    assert views[a]["decision_cents"] == 4000 and views[b]["effective_policy"] == "alert"
    assert views[c]["effective_policy"] == "capture"
    csv = tmp_path / "decisions.csv"
    csv.write_text(f"purchase_id,decision,amount\n{c},void,\nmissing,void,\n")
    imported = run("holds", "import", str(csv))
    assert imported.exit_code == 1 and "line 3, column purchase_id" in imported.output
    as_of = (await world.now() + timedelta(days=6, minutes=1)).isoformat()
    swept = await asyncio.to_thread(run, "sweep", "--as-of", as_of, "--json")
    assert swept.exit_code == 1, swept.output  # b's alert needs a person
    out = swept.output
    summary = json.loads(out[out.index("{") :])
    assert summary["partially_captured"] == 1 and summary["voided"] == 1
    assert summary["alerted"] == 1
    assert (await world.purchase(a))["payment"]["amount"] == 4000
    assert (await world.purchase(c))["status"] == "released"
