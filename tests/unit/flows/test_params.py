"""The flows' parameter models and sandbox conveniences, without a server."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from flows import (
    CardInput,
    CustomerInitiatedPaymentRequest,
    NetworkTokenPaymentRequest,
    PaymentResult,
    SandboxCard,
    Shopper,
)
from flows._cards import sandbox_card_data, sandbox_only
from payflows.ledger import AttemptState
from payflows.payments import ChallengeInfo, OperationRejected, PaymentOutcome
from payflows.sandbox import TEST_CARDS
from payflows.settings import load_settings


def test_every_sandbox_test_card_has_a_name_and_no_number_in_it() -> None:
    assert {c.value for c in SandboxCard} == {c.key for c in TEST_CARDS}
    assert not any(any(ch.isdigit() for ch in c.value.replace("3ds", "")) for c in SandboxCard)


def test_a_card_comes_from_exactly_one_place() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        CardInput()
    with pytest.raises(ValidationError, match="exactly one"):
        CardInput(card_ref="cardref_" + "x" * 32, sandbox_card=SandboxCard("visa_approved"))
    with pytest.raises(ValidationError, match="exactly one"):
        NetworkTokenPaymentRequest(
            order_id="o",
            amount_cents=1,
            shopper=Shopper(email="a@b.c"),
            token_requestor_id="1",
        )


def test_amounts_are_positive_integer_cents_and_currencies_iso() -> None:
    base = {
        "order_id": "o-1",
        "shopper": Shopper(email="a@b.c"),
        "card": CardInput(card_ref="cardref_" + "r" * 32),
    }
    with pytest.raises(ValidationError):
        CustomerInitiatedPaymentRequest(amount_cents=0, **base)
    with pytest.raises(ValidationError):
        CustomerInitiatedPaymentRequest(amount_cents=1.5, **base)
    with pytest.raises(ValidationError, match="ISO 4217"):
        CustomerInitiatedPaymentRequest(amount_cents=100, currency="rand", **base)
    assert (
        CustomerInitiatedPaymentRequest(amount_cents=100, currency="zar", **base).currency == "ZAR"
    )


def test_sandbox_cards_resolve_in_memory_and_only_against_the_sandbox() -> None:
    card = sandbox_card_data(SandboxCard("chip_visa"), cardholder_name="T N")
    assert card.masked_pan == "444433******1111" and "4444333322221111" not in repr(card)
    sandbox_only(load_settings(), "sandbox_card")
    live = load_settings(
        PRECIUM_BASE_URL="https://gate.example/api/v1/",
        PRECIUM_API_KEY="k",
        PRECIUM_S2S_API_KEY="s",
    )
    with pytest.raises(OperationRejected, match="only accepted against the local sandbox"):
        sandbox_only(live, "sandbox_card")


def test_a_result_never_carries_the_pareq() -> None:
    outcome = PaymentOutcome(
        business_key="cit:1",
        kind="cit",
        state=AttemptState.SUBMITTED,
        amount_cents=100,
        currency="ZAR",
        three_ds=ChallengeInfo(md="md-1", acs_url="http://acs", pareq="SECRET-PAREQ"),
    )
    result = PaymentResult.of("customer-initiated-payment", outcome)
    assert result.three_ds is not None and result.three_ds.md == "md-1"
    assert "SECRET-PAREQ" not in result.model_dump_json()


def test_every_flow_is_served_with_a_form_and_sandbox_card_names() -> None:
    from prefect.utilities.callables import parameter_schema

    from deployments.serve import runner_deployments
    from flows import ALL_FLOWS, customer_initiated_payment

    served = runner_deployments(schedules=False)
    assert {d.flow_name for d in served} >= set(ALL_FLOWS) - {"complete-3ds"}
    assert len(ALL_FLOWS) >= 16
    assert "customer-initiated-payment" in {d.flow_name for d in served}
    schema = json.dumps(parameter_schema(customer_initiated_payment).model_dump())
    assert '"params"' not in schema  # flat forms, no nested object
    assert "visa_3ds_challenge" in schema and '"approve"' in schema and '"ZAR"' in schema


# -- card numbers in the forms (rule 4) -------------------------------------------------------


def _schema_text(flow: object) -> str:
    import json

    return json.dumps(flow.parameters.model_dump())  # type: ignore[attr-defined]


@pytest.mark.parametrize("typed", ["4111 1111 1111 1111", "4111111111111111", "cardref_short"])
def test_the_card_reference_accepts_only_what_a_vault_reference_looks_like(typed: str) -> None:
    import re

    from flows import CardInput, customer_initiated_payment
    from payflows.vault import REFERENCE_PATTERN, default_vault

    # The UI form (and Prefect's server) refuses it.
    assert REFERENCE_PATTERN.strip("^$") in _schema_text(customer_initiated_payment)
    assert not re.search(REFERENCE_PATTERN, typed)
    with pytest.raises(ValueError) as refused:
        CardInput(card_ref=typed)
    assert "4111" not in str(refused.value)  # the error never echoes what was typed
    from payflows.domain.cards import CardData

    ref = default_vault.put(CardData("4111 1111 1111 1111", "12/30", "123", "A Shopper"))
    try:
        assert CardInput(card_ref=ref).card_ref == ref
    finally:
        default_vault.discard(ref)


def test_a_card_number_in_any_other_field_is_refused_without_being_echoed() -> None:
    from flows import CardInput, CustomerInitiatedPaymentRequest, Shopper

    for field, value in [("order_id", "4111-1111-1111-1111"), ("product", "card 4111111111111111")]:
        fields = {
            "order_id": "ORDER-1",
            "amount_cents": 100,
            "shopper": Shopper(email="a@b.co"),
            "card": CardInput(sandbox_card="visa_approved"),
            field: value,
        }
        with pytest.raises(ValueError) as refused:
            CustomerInitiatedPaymentRequest(**fields)
        assert field in str(refused.value) and "4111" not in str(refused.value)
