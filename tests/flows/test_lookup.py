"""Finding a payment as an operator does: by order id, email, last four digits or purchase id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows import (
    customer_initiated_payment,
    payment_lookup,
    preauthorize,
    refund,
)
from payflows.ledger import UnitOfWork, make_engine
from payflows.lookup import LookupRefused, find_payments, looks_like_card_number, query_kind
from tests.flows.support import Ledger, Sandbox, amount_text, card, run, shopper


def cit(order: str, card_name: str) -> dict[str, Any]:
    return dict(order_id=order, amount=amount_text(29_900), **shopper(order), **card(card_name))


def _find(ledger: Ledger, query: str) -> list:
    with UnitOfWork(make_engine(ledger.url)) as uow:
        return find_payments(uow, query)


async def test_a_payment_is_found_by_order_email_last_four_and_purchase_id(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    paid = await run(customer_initiated_payment, cit(key, "visa_approved"))
    await run(
        refund,
        dict(purchase_id=paid.purchase_id, refund_ref=f"r{key}", amount=amount_text(10_000)),
    )
    declined = await run(customer_initiated_payment, cit(f"d{key}", "visa_insufficient_funds"))
    held = await run(
        preauthorize,
        dict(
            booking_id=f"b{key}",
            amount=amount_text(50_000),
            **shopper(key),
            **card("visa_approved"),
        ),
    )

    [by_order] = _find(ledger, key)  # the order id the shop knows, without the cit: prefix
    assert by_order.purchase_id == paid.purchase_id and by_order.amount == "R 299.00"
    assert by_order.refunded == "R 100.00" and by_order.refunds[0].status == "pending"
    assert by_order.actions == ["refund", "cancel"]
    assert [v.purchase_id for v in _find(ledger, paid.purchase_id)] == [paid.purchase_id]
    by_email = {v.business_key for v in _find(ledger, f"{key.lower()}@example.test")}
    assert {f"cit:{key}", f"preauth:b{key}"} <= by_email
    assert f"cit:{key}" in {v.business_key for v in _find(ledger, "1111")}
    [no] = _find(ledger, f"d{key}")
    assert no.outcome == "declined insufficient_funds" and no.decline_code == "insufficient_funds"
    assert no.purchase_id == declined.purchase_id and no.actions == []
    [hold] = _find(ledger, held.purchase_id)
    assert hold.actions == ["capture", "void"] and hold.hold_expires_at is not None
    assert all("4111111111111111" not in v.model_dump_json() for v in _find(ledger, "1111"))


async def test_the_lookup_flow_shows_a_table_and_names_its_state_after_what_it_found(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    paid = await run(customer_initiated_payment, cit(key, "visa_approved"))

    state = await payment_lookup(key, return_state=True)

    assert state.is_completed() and state.name == "1 found"
    async with get_client() as client:
        flow_run = await client.read_flow_run(state.state_details.flow_run_id)
        [artifact] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
        )
    assert flow_run.name == f"lookup-{key}"
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert rows[0]["purchase id"] == paid.purchase_id
    assert "refund: refund/refund-a-payment" in rows[0]["actions"]
    nothing = await payment_lookup("no-such-order", return_state=True)
    assert nothing.name == "Nothing found"


@pytest.mark.parametrize(
    "text", ["4111 1111 1111 1111", "4111-1111-1111-1111", "x4111111111111111"]
)
def test_a_card_number_is_never_a_search(text: str) -> None:
    assert looks_like_card_number(text)
    with pytest.raises(LookupRefused):
        query_kind(text)


def test_the_lookup_form_refuses_a_card_number_before_the_run_is_stored() -> None:
    with pytest.raises(Exception, match="pattern"):
        payment_lookup.validate_parameters({"query": "4111 1111 1111 1111"})
    assert payment_lookup.validate_parameters({"query": "ORDER-12"})["query"] == "ORDER-12"
    assert query_kind("1111") == "last4" and query_kind("a@b.co") == "email"
