"""A pipeline run carries its tags however it was started: deployment, CLI, in-process caller.

Automations match runs by tag (docs/ops/automations.yaml): a run without them would fail
silently. Each test starts a pipeline one way on the session's Prefect server and reads the
tags of the run it created there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName

from deployments import by_name
from flows._tags import tags_for
from tests.support.prefect_server import PrefectServer

AS_OF = "2026-01-31T07:00:00+00:00"


async def _runs(flow_name: str) -> dict[UUID, Any]:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name]))
        )
    return {run.id: run for run in runs}


async def _new_run(flow_name: str, before: dict[UUID, Any]) -> Any:
    """The one run of ``flow_name`` created since ``before`` was read."""
    [run] = [run for run_id, run in (await _runs(flow_name)).items() if run_id not in before]
    return run


def _assert_carries(run: Any, flow_name: str) -> None:
    assert set(tags_for(flow_name)) <= set(run.tags), run.tags
    assert "payflows" in run.tags and f"pipeline:{flow_name}" in run.tags


async def test_a_deployments_runs_carry_the_catalogs_tags(prefect_api: PrefectServer) -> None:
    """The server gives a deployment's run the deployment's tags, which are the catalog's.

    No worker needs to pick the run up: it is created, read and deleted (a later test's
    server must not start it).
    """
    spec = by_name("subscription-billing/nightly")
    async with get_client() as client:
        flow_id = await client.create_flow_from_name(spec.flow_name)
        deployment_id = await client.create_deployment(
            flow_id=flow_id,
            name=f"{spec.name}-tags-test",
            entrypoint=spec.entrypoint,
            tags=list(spec.tags),
        )
        try:
            run = await client.create_flow_run_from_deployment(deployment_id)
            _assert_carries(run, spec.flow_name)
            await client.delete_flow_run(run.id)
        finally:
            await client.delete_deployment(deployment_id)


async def test_payflows_bill_runs_the_flow_under_its_tags(
    prefect_api: PrefectServer, flow_env: Callable[[str], None], capsys: Any
) -> None:
    from apps.billing_cli import bill_command

    before = await _runs("subscription-billing")
    code = await asyncio.to_thread(bill_command, as_of=AS_OF, worker_id="tags-test")
    assert code == 0, capsys.readouterr()
    run = await _new_run("subscription-billing", before)
    _assert_carries(run, "subscription-billing")
    assert run.parameters["worker_id"] == "tags-test"  # flat: one parameter each
    assert run.name == "billing-2026-01-31T07:00Z"  # the day it billed, not a random name


async def test_payflows_sweep_runs_the_flow_under_its_tags(
    prefect_api: PrefectServer, flow_env: Callable[[str], None], capsys: Any
) -> None:
    from apps.sweep_cli import sweep_command

    before = await _runs("preauth-sweep")
    code = await asyncio.to_thread(sweep_command, as_of=AS_OF)
    assert code == 0, capsys.readouterr()
    run = await _new_run("preauth-sweep", before)
    _assert_carries(run, "preauth-sweep")
    assert run.name == "sweep-2026-01-31T07:00Z"


async def test_payflows_report_runs_the_flow_under_its_tags(
    prefect_api: PrefectServer, flow_env: Callable[[str], None], tmp_path: Any
) -> None:
    from apps.reports_cli import report_command

    before = await _runs("settlement-report")
    code = await asyncio.to_thread(
        report_command, date_from="2020-03-01", as_of=AS_OF, output_dir=str(tmp_path)
    )
    assert code == 0
    run = await _new_run("settlement-report", before)
    _assert_carries(run, "settlement-report")
    assert run.name.startswith("report-20"), run.name


async def test_the_business_days_pipelines_run_under_their_tags(
    prefect_api: PrefectServer, flow_env: Callable[[str], None]
) -> None:
    from apps.business_day import _bill

    before = await _runs("subscription-billing")
    summary = await _bill(datetime(2026, 1, 31, 7, tzinfo=UTC))
    assert summary.claimed == 0  # an empty ledger: nothing due, a complete run
    _assert_carries(await _new_run("subscription-billing", before), "subscription-billing")


async def test_the_web_apps_checkout_runs_its_scenario_under_its_tags(
    prefect_api: PrefectServer, flow_env: Callable[[str], None], key: str
) -> None:
    """Not a pipeline, but the same seam: apps/web/_flows.py starts scenario runs in-process."""
    from apps.web import _flows
    from flows._cards import sandbox_card_data
    from flows._models import Browser
    from payflows.vault import default_vault

    name = "customer-initiated-payment"
    before = await _runs(name)
    result = await _flows.checkout(
        mode="cit",
        order_id=f"tags-{key}",
        email="tags@example.test",
        amount_cents=1_000,
        currency="ZAR",
        product="Order",
        card_ref=default_vault.put(sandbox_card_data("visa_approved", cardholder_name="T Test")),
        remote_ip="127.0.0.1",
        browser=Browser().fingerprint(),
    )
    assert result.succeeded
    run = await _new_run(name, before)
    assert set(tags_for(name)) <= set(run.tags) and f"scenario:{name}" in run.tags


async def test_the_operator_pages_actions_run_under_their_scenarios_tags(
    prefect_api: PrefectServer, flow_env: Callable[[str], None], key: str
) -> None:
    """A refund (or capture, void, cancel) from /operator runs its flow in the web app's
    process: it must carry the tags a Custom run from the UI carries, or an automation on
    failed refunds never sees it."""
    from apps.web import _flows
    from apps.web.operator import perform_action
    from flows._cards import sandbox_card_data
    from flows._models import Browser
    from payflows.ledger import make_engine
    from payflows.settings import load_settings
    from payflows.vault import default_vault

    paid = await _flows.checkout(
        mode="cit",
        order_id=f"op-tags-{key}",
        email="tags@example.test",
        amount_cents=1_000,
        currency="ZAR",
        product="Order",
        card_ref=default_vault.put(sandbox_card_data("visa_approved", cardholder_name="T Test")),
        remote_ip="127.0.0.1",
        browser=Browser().fingerprint(),
    )
    assert paid.succeeded and paid.purchase_id
    name = "refund"
    before = await _runs(name)
    engine = make_engine(load_settings().database_url)
    try:
        state, _ = await perform_action(
            engine, paid.purchase_id, "refund", {"refund_ref": f"r-{key}"}
        )
    finally:
        engine.dispose()
    assert state == "Refunded"
    run = await _new_run(name, before)
    assert set(tags_for(name)) <= set(run.tags) and f"scenario:{name}" in run.tags, run.tags
