"""Serving again keeps what an operator set in the UI: a paused deployment or schedule stays so."""

from __future__ import annotations

import inspect

from prefect.client.orchestration import get_client

from deployments.catalog import by_name
from deployments.serve import OperatorChoice, operator_choices, runner_deployments
from tests.support.prefect_server import PrefectServer


async def _apply(specs: list, choices: dict) -> None:
    for deployment in runner_deployments(specs, choices=choices):
        if inspect.isawaitable(deployment):  # to_deployment is async in an event loop
            deployment = await deployment
        await deployment.apply()


async def test_a_schedule_paused_in_the_ui_stays_paused_when_served_again(
    prefect_api: PrefectServer,
) -> None:
    specs = [by_name("preauth-sweep/hourly"), by_name("csv-inbox-import/inbox")]
    await _apply(specs, await operator_choices(specs))
    async with get_client() as client:
        sweep = await client.read_deployment_by_name("preauth-sweep/hourly")
        inbox = await client.read_deployment_by_name("csv-inbox-import/inbox")
        assert not sweep.paused and all(s.active for s in sweep.schedules)
        # The operator: pause the sweep deployment, switch the inbox's schedule off.
        await client.pause_deployment(sweep.id)
        await client.update_deployment_schedule(inbox.id, inbox.schedules[0].id, active=False)

    choices = await operator_choices(specs)
    assert choices["preauth-sweep/hourly"] == OperatorChoice(paused=True, schedule_active=True)
    assert choices["csv-inbox-import/inbox"].schedule_active is False
    await _apply(specs, choices)  # what `payflows up` does on its next start

    async with get_client() as client:
        sweep = await client.read_deployment_by_name("preauth-sweep/hourly")
        inbox = await client.read_deployment_by_name("csv-inbox-import/inbox")
    assert sweep.paused
    assert [s.active for s in inbox.schedules] == [False]
