"""The session's Prefect server is real: flows called in-process are recorded there."""

from __future__ import annotations

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL

from tests.support.prefect_server import PrefectServer


@flow(name="payflows-smoke")
async def _smoke(x: int) -> int:
    return x + 1


async def test_flows_run_against_the_session_server(prefect_api: PrefectServer) -> None:
    assert PREFECT_API_URL.value() == prefect_api.api_url
    state = await _smoke(1, return_state=True)
    assert await state.result() == 2
    async with get_client() as client:
        run = await client.read_flow_run(state.state_details.flow_run_id)
    assert run.parameters == {"x": 1}
    assert prefect_api.database.exists()
