"""What an operator sees of a scenario run in the Prefect UI: state name, log line, artifact.

Everything is read back through the Prefect API, as the UI reads it: the flow run's state
type and name, its logs and the artifact keyed by the business id.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    LogFilter,
    LogFilterFlowRunId,
)

from flows import (
    artifact_key,
    complete_3ds,
    customer_initiated_payment,
    preauthorize,
    result_of_run,
)
from payflows.sandbox import complete_challenge
from payflows.vault import default_vault
from tests.flows.support import Ledger, Sandbox, amount_text, card, shopper


async def _run(flow: Any, params: Any) -> tuple[Any, Any]:
    state = await flow(**params, return_state=True)
    async with get_client() as client:
        run = await client.read_flow_run(state.state_details.flow_run_id)
    return run, await result_of_run(_resolved(state))


async def _resolved(state: Any) -> Any:
    """``result_of_run`` takes the awaitable of a flow call; here the state is already known."""
    return state


async def _logs(flow_run_id: UUID) -> list[str]:
    """The run's log messages; they reach the server in batches, so poll for a while."""
    async with get_client() as client:
        for _ in range(120):
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
            messages = [log.message for log in logs]
            if any(" purchase " in m for m in messages):
                return messages
            await asyncio.sleep(0.5)
    return messages


async def _artifacts(key: str) -> list[Any]:
    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )


def cit(order: str, card_name: str, **extra: object) -> dict[str, Any]:
    return dict(
        order_id=order, amount=amount_text(29_900), **shopper(order), **card(card_name), **extra
    )


async def test_a_paid_order_is_a_completed_run_named_paid_with_its_line_and_artifact(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    run, result = await _run(customer_initiated_payment, cit(key, "visa_approved"))

    assert run.name == f"cit-{key}"
    assert run.state.type.value == "COMPLETED" and run.state.name == "Paid"
    lines = await _logs(run.id)
    line = next(m for m in lines if " purchase " in m)
    assert result.purchase_id in line and "411111******1111" in line and "status paid" in line
    artifacts = await _artifacts(artifact_key(f"cit:{key}"))
    assert len(artifacts) == 1 and artifacts[0].flow_run_id == run.id
    assert result.purchase_id in artifacts[0].data and "Paid" in artifacts[0].data


async def test_a_declined_order_is_a_failed_run_named_after_its_decline_code(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    run, result = await _run(customer_initiated_payment, cit(key, "visa_insufficient_funds"))

    assert result.decline_code == "insufficient_funds"
    assert run.state.type.value == "FAILED"
    assert run.state.name == "Declined: insufficient_funds"
    assert f"cit:{key}" in (run.state.message or "")
    line = next(m for m in await _logs(run.id) if " purchase " in m)
    assert "decline insufficient_funds" in line and result.purchase_id in line
    artifacts = await _artifacts(artifact_key(f"cit:{key}"))
    assert "insufficient_funds" in artifacts[0].data


async def test_a_hold_is_named_held_and_a_3ds_hand_off_awaiting_3ds_then_linked_on_completion(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    held, _ = await _run(
        preauthorize,
        dict(
            booking_id=f"b{key}",
            amount=amount_text(10_000),
            **shopper(key),
            **card("visa_approved"),
        ),
    )
    assert held.state.name == "Held" and held.state.type.value == "COMPLETED"

    waiting_run, waiting = await _run(customer_initiated_payment, cit(key, "visa_3ds_challenge"))
    assert waiting_run.state.name == "Awaiting 3DS" and waiting.three_ds is not None
    pareq = default_vault.pop_secret(f"pareq:{waiting.three_ds.md}")
    async with httpx.AsyncClient() as browser:
        pares = await complete_challenge(
            browser,
            waiting.three_ds.acs_url,
            waiting.three_ds.md,
            pareq or "",
            "http://merchant.test/3ds/return",
        )
    done_run, done = await _run(complete_3ds, dict(md=waiting.three_ds.md, pares=pares))
    assert done.succeeded and done_run.state.name == "Paid"
    async with get_client() as client:
        renamed = await client.read_flow_run(done_run.id)
    assert renamed.name == f"complete-3ds-cit:{key}"
    # The order's artifact has two versions: the hand-off, then the completion.
    runs = {a.flow_run_id for a in await _artifacts(artifact_key(f"cit:{key}"))}
    assert runs == {waiting_run.id, done_run.id}


def test_artifact_keys_are_in_prefects_alphabet() -> None:
    assert artifact_key("cit:ORDER_12/a") == "payment-cit-order-12-a"
