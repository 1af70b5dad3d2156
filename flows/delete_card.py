"""Delete a customer's stored card: at the gateway, then in the ledger; billing stops charging it.

The gateway also announces the deletion by webhook (``purchase.pending_recurring_token_delete``,
``purchase.recurring_token_deleted``), which marks the card deleted whoever asked for it; this
flow is the merchant asking. Running it again for a deleted card changes nothing and succeeds.
"""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from flows._fields import CustomerId, RecurringToken
from flows._forms import request
from payflows.stored_cards import CardDeletion
from tasks import payments as tasks
from tasks.runtime import payment_context

__all__ = ["DeleteCardRequest", "delete_card"]

NAME = "delete-card"


class DeleteCardRequest(BaseModel):
    """Whose card, and which: the recurring token (the id of the purchase that saved it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: str = Field(min_length=1, max_length=128)
    recurring_token: str = Field(
        min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
    )


@flow(name=NAME, flow_run_name="delete-card-{recurring_token}", persist_result=False)
async def delete_card(*, customer_id: CustomerId, recurring_token: RecurringToken) -> CardDeletion:
    """Delete a customer's stored card at the gateway; billing stops charging it."""
    params = request(DeleteCardRequest, locals())
    async with payment_context():
        return await tasks.delete_stored_card(params.customer_id, params.recurring_token)
