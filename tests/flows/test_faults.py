"""Gateway faults on the step that moves money: never a double payment, the right final state.

Each fault hits the money-moving request once (``count: 1``):

- ``rate_limit`` (429) means nothing happened: the task is retried (retry-safe) and pays;
- ``error_5xx`` and ``drop`` on a write are unknown outcomes: the attempt is settled by reading
  the purchase back (not paid), and running the flow again pays, once;
- ``lost_after_commit`` committed the payment and lost the answer: the read-back finds it paid;
- a merchant-initiated charge answered 5xx or dropped, read back unpaid, is charged again on the
  same purchase at once: it pays in the first run, once.
"""

from __future__ import annotations

from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows import (
    OperationRejected,
    capture_hold,
    customer_initiated_payment,
    mit_charge,
    preauthorize,
    refund,
    zero_auth_validation,
)
from payflows.ledger import AttemptState
from tasks.runtime import retry_safe_only
from tests.flows.support import Ledger, Sandbox, amount_text, card, run, shopper

FAULTS = ["error_5xx", "rate_limit", "drop", "lost_after_commit"]


def fault(route: str, kind: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"route": route, "kind": kind, "count": 1}
    if kind == "rate_limit":
        rule["retry_after"] = 0
    return rule


#: What the first run reports under each fault, before anyone runs the flow again.
FIRST_STATE = {
    "rate_limit": AttemptState.SUCCEEDED,  # retried by the task
    "lost_after_commit": AttemptState.SUCCEEDED,  # found paid by the read-back
    "error_5xx": AttemptState.UNKNOWN,  # read back: not paid yet
    "drop": AttemptState.UNKNOWN,
}


#: A merchant-initiated charge whose 5xx or lost answer reads back unpaid is charged again on
#: the same purchase in the same run (the gateway pays a purchase at most once).
MIT_FIRST_STATE = {kind: AttemptState.SUCCEEDED for kind in FAULTS}


async def until_settled(
    flow: Any, params: Any, kind: str, first: dict[str, AttemptState] = FIRST_STATE
) -> Any:
    """Run the flow; when the outcome is not known, run it again (what an operator would do)."""
    result = await run(flow, params)
    assert result.state is first[kind], result
    if result.state is AttemptState.UNKNOWN:
        result = await run(flow, params)
    return result


def cit(order: str) -> dict[str, Any]:
    return dict(
        order_id=order, amount=amount_text(30_000), **shopper(order), **card("visa_approved")
    )


@pytest.mark.parametrize("kind", FAULTS)
async def test_card_submission_fault_never_pays_twice(
    sandbox: Sandbox, ledger: Ledger, key: str, kind: str
) -> None:
    await sandbox.faults(fault("POST /p/*/", kind))

    result = await until_settled(customer_initiated_payment, cit(key), kind)

    assert result.succeeded and result.purchase_status == "paid"
    purchases = await sandbox.purchases(f"cit:{key}")
    assert [p["status"] for p in purchases] == ["paid"]
    assert ledger.attempt(f"cit:{key}")["state"] == "succeeded"  # type: ignore[index]


@pytest.mark.parametrize("kind", FAULTS)
async def test_mit_charge_fault_never_pays_twice(
    sandbox: Sandbox, ledger: Ledger, key: str, kind: str
) -> None:
    stored = await run(
        zero_auth_validation,
        dict(reference=key, **shopper(key), **card("visa_approved")),
    )
    assert stored.recurring_token
    params = dict(
        subscription_id=f"sub-{key}",
        period="2026-05",
        amount=amount_text(9_900),
        customer_id=shopper(key)["email"],
        recurring_token=stored.recurring_token,
    )
    await sandbox.faults(fault("POST /api/v1/purchases/*/charge/", kind))

    result = await until_settled(mit_charge, params, kind, MIT_FIRST_STATE)

    assert result.succeeded
    assert [p["status"] for p in await sandbox.purchases(f"mit:sub-{key}:2026-05")] == ["paid"]


@pytest.mark.parametrize("kind", FAULTS)
async def test_capture_fault_captures_once(
    sandbox: Sandbox, ledger: Ledger, key: str, kind: str
) -> None:
    held = await run(
        preauthorize,
        dict(booking_id=key, amount=amount_text(50_000), **shopper(key), **card("visa_approved")),
    )
    assert held.purchase_id
    await sandbox.faults(fault("POST /api/v1/purchases/*/capture/", kind))

    result = await until_settled(
        capture_hold, dict(purchase_id=held.purchase_id, amount=amount_text(20_000)), kind
    )

    assert result.succeeded and result.purchase_status == "paid"
    remote = await sandbox.purchase(held.purchase_id)
    assert remote["status"] == "paid" and remote["payment"]["amount"] == 20_000


@pytest.mark.parametrize("kind", FAULTS)
async def test_refund_fault_refunds_once(
    sandbox: Sandbox, ledger: Ledger, key: str, kind: str
) -> None:
    paid = await run(customer_initiated_payment, cit(key))
    assert paid.purchase_id
    await sandbox.faults(fault("POST /api/v1/purchases/*/refund/", kind))

    result = await until_settled(
        refund,
        dict(purchase_id=paid.purchase_id, refund_ref="R1", amount=amount_text(10_000)),
        kind,
    )

    assert result.succeeded
    remote = (await sandbox.purchases(f"cit:{key}"))[0]
    assert len(remote["refunds"]) == 1 and remote["refundable_amount"] == 20_000


# -- the retry rule -------------------------------------------------------------------------------


async def task_runs(flow_run_id: Any) -> dict[str, int]:
    """Task name -> run count, read from the Prefect server."""
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {run.name.rsplit("-", 1)[0]: run.run_count for run in runs}


async def test_a_retry_safe_error_is_retried_by_the_task(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    await sandbox.faults(fault("POST /p/*/", "rate_limit"))

    state = await customer_initiated_payment(**cit(key), return_state=True)

    assert (await state.result()).succeeded
    assert (await task_runs(state.state_details.flow_run_id))["submit-card"] == 2


async def test_a_decline_is_an_answer_not_retried(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    params = {**cit(key), **card("visa_insufficient_funds")}

    state = await customer_initiated_payment(**params, return_state=True)

    assert state.is_failed() and state.name == "Declined: insufficient_funds"
    assert (await state.result(raise_on_failure=False)).state is AttemptState.DECLINED
    assert (await task_runs(state.state_details.flow_run_id))["submit-card"] == 1


async def test_a_refused_operation_fails_the_run_without_a_retry(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    paid = await run(customer_initiated_payment, cit(key))
    assert paid.purchase_id

    state = await refund(
        purchase_id=paid.purchase_id, refund_ref="R1", amount=amount_text(30_001), return_state=True
    )

    assert state.is_failed()
    with pytest.raises(OperationRejected):
        await state.result()
    assert (await task_runs(state.state_details.flow_run_id))["refund-purchase"] == 1


def test_retry_condition_accepts_only_retry_safe_errors() -> None:
    from prefect.states import Failed

    from payflows.gateway import GatewayUnavailableError, OutcomeUnknownError, RateLimitedError

    safe = [
        RateLimitedError("429", retry_after=1),
        GatewayUnavailableError("503"),
    ]
    unsafe = [
        OutcomeUnknownError("lost", purchase_id="p"),
        OperationRejected("too much"),
        ValueError("bug"),
    ]
    assert all(retry_safe_only(None, None, Failed(data=exc)) for exc in safe)
    assert not any(retry_safe_only(None, None, Failed(data=exc)) for exc in unsafe)
