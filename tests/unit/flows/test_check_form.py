"""``check_form`` holds a form to a flow's parameters as Prefect does when the run starts."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.exceptions import ParameterTypeError

from flows._forms import check_form
from flows.scenarios import SCENARIOS
from payflows.payments import OperationRejected

SAMPLED = [s for s in SCENARIOS if s.sample]


def _prefect_refuses(flow: Any, form: dict[str, Any]) -> set[str]:
    try:
        flow.validate_parameters(form)
    except ParameterTypeError as exc:
        return {line.strip(" -").split(":")[0] for line in str(exc).splitlines()[1:]}
    return set()


def _we_refuse(flow: Any, form: dict[str, Any]) -> set[str]:
    try:
        check_form(flow, form)
    except OperationRejected as exc:
        return {problem.split(":")[0] for problem in str(exc).split("; ")}
    return set()


@pytest.mark.parametrize("scenario", SAMPLED, ids=[s.command for s in SAMPLED])
def test_the_same_forms_pass_and_the_same_fields_are_refused(scenario: Any) -> None:
    good = dict(scenario.sample)
    assert _we_refuse(scenario.flow, good) == _prefect_refuses(scenario.flow, good) == set()

    bad = {**good, "amount": "-1", "email": "4111 1111 1111 1111@x.co"}
    bad = {k: v for k, v in bad.items() if k in good}
    refused = _we_refuse(scenario.flow, bad)
    assert refused == _prefect_refuses(scenario.flow, bad)
    assert refused == {"amount", "email"} & set(good)
    # A name the flow does not take: Prefect refuses it before validating, so do we.
    assert _we_refuse(scenario.flow, {**good, "nope": 1}) == {"nope"}


def test_a_refusal_names_the_field_never_the_value() -> None:
    flow = SAMPLED[0].flow
    with pytest.raises(OperationRejected) as refused:
        check_form(flow, {**SAMPLED[0].sample, "email": "4111 1111 1111 1111@x.co"})
    assert str(refused.value).startswith("email: ") and "4111" not in str(refused.value)
