"""The pipelines' forms: one field per parameter, each with help, technical fields last."""

from __future__ import annotations

import pytest
from prefect.utilities.callables import parameter_schema

from flows import ALL_FLOWS
from flows._tags import OPERATOR_TOOLS, PIPELINES
from flows.sharded_billing import billing_shard

FORMS = sorted(set(PIPELINES) | OPERATOR_TOOLS)


@pytest.mark.parametrize("name", FORMS)
def test_every_parameter_is_a_field_of_its_own_with_help(name: str) -> None:
    flow = ALL_FLOWS[name]
    # What the UI (serve) and `prefect deploy` (the flow object) both build the form from.
    for schema in (flow.parameters.model_dump(), parameter_schema(flow).model_dump()):
        props = schema["properties"]
        assert "params" not in props
        assert all(prop.get("type") != "object" for prop in props.values()), props
        missing = [key for key, prop in props.items() if not prop.get("description")]
        assert not missing, f"{name}: no help for {missing}"


@pytest.mark.parametrize("name", FORMS)
def test_technical_fields_come_after_the_ones_an_operator_chooses(name: str) -> None:
    props = ALL_FLOWS[name].parameters.model_dump()["properties"]
    technical = [prop["description"].startswith("Technical") for prop in props.values()]
    assert technical == sorted(technical), list(props)
    for key, prop in props.items():
        if prop["description"].startswith("Technical"):
            assert "default" in prop or key == "deployment", key  # defaulted (or given)


def test_a_shard_takes_the_nightly_runs_parameters() -> None:
    nightly = ALL_FLOWS["subscription-billing"].parameters.model_dump()
    assert billing_shard.parameters.model_dump() == nightly


def test_a_refund_needs_its_reference() -> None:
    """A refund run again (after a lost answer, a crash, a timeout) must be the same refund.

    With the run's own id as the default reference, each run of ``payflows run refund
    --amount 100.00`` or of the deployment from the UI was a new refund: two runs refunded twice.
    """
    from flows.after_payment import refund

    for schema in (refund.parameters.model_dump(), parameter_schema(refund).model_dump()):
        assert "refund_ref" in schema["required"]
        assert "default" not in schema["properties"]["refund_ref"]
