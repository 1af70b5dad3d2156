"""Find a payment from the Prefect UI (``payment-lookup``): a table of what matches, and how to act.

The operator types an order id, an email, the last four digits of a card or a purchase id.
The run ends ``Completed`` named ``<n> found`` (or ``Nothing found``) and shows a table artifact
with each payment's status, decline reason, amounts, refunds, hold and the actions it allows;
each action is a Custom run of the deployment named there (``capture-hold/capture-a-hold`` with
the purchase id...). A card number in the search box fails the run before anything is read.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, State

from flows._fields import described
from payflows.ledger import UnitOfWork
from payflows.lookup import QUERY_PATTERN, PaymentView, find_payments
from payflows.settings import load_settings
from tasks.runtime import engine_for

__all__ = ["ACTION_DEPLOYMENTS", "payment_lookup"]

NAME = "payment-lookup"

#: Where each action is taken from the Prefect UI (a Custom run with the purchase id).
ACTION_DEPLOYMENTS = {
    "capture": "capture-hold/capture-a-hold",
    "void": "void-hold/release-a-hold",
    "refund": "refund/refund-a-payment",
    "cancel": "cancel-purchase/cancel-before-settlement",
}

Query = Annotated[
    str,
    described(
        min_length=1,
        max_length=200,
        pattern=QUERY_PATTERN,
        description=(
            "An order id, a customer's email, a card's last four digits or a purchase id "
            "(never a whole card number)."
        ),
    ),
]


@task(name="find-payments", persist_result=False, cache_policy=NO_CACHE)
def _find(query: str, limit: int) -> list[PaymentView]:
    with UnitOfWork(engine_for(load_settings().database_url)) as uow:
        return find_payments(uow, query, limit=limit)


def _row(view: PaymentView) -> dict[str, Any]:
    return {
        "business id": view.business_key,
        "purchase id": view.purchase_id or "",
        "outcome": view.outcome,
        "status": view.purchase_status or "",
        "amount": view.amount,
        "paid": view.paid or "",
        "refunded": view.refunded or "",
        "decline": view.decline_code or "",
        "card": view.card or "",
        "email": view.email or "",
        "hold expires": view.hold_expires_at.isoformat() if view.hold_expires_at else "",
        "actions": ", ".join(f"{a}: {ACTION_DEPLOYMENTS[a]}" for a in view.actions),
    }


@flow(name=NAME, flow_run_name="lookup-{query}", persist_result=False)
async def payment_lookup(
    query: Query,
    limit: Annotated[
        int, described(ge=1, le=500, description="At most this many payments, newest first.")
    ] = 50,
) -> State[list[PaymentView]]:
    """Find payments by order id, email, last four digits or purchase id."""
    found = _find(query, limit)
    await acreate_table_artifact(
        table=[_row(v) for v in found] or [{"business id": "(nothing matches)"}],
        description=f"Payments matching `{query}`: {len(found)}",
    )
    get_run_logger().info("lookup %r: %d payment(s)", query, len(found))
    name = f"{len(found)} found" if found else "Nothing found"
    return Completed(data=found, name=name, message=f"{query}: {name}")
