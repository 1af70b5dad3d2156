"""``check_form`` holds a form to a flow's parameters as Prefect does when the run starts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prefect.exceptions import ParameterTypeError

from flows._forms import check_form, form_model
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
    assert _we_refuse(scenario.flow, {**good, "nope": 1}) == {"parameters"}


def test_a_refusal_names_the_field_never_the_value() -> None:
    flow = SAMPLED[0].flow
    with pytest.raises(OperationRejected) as refused:
        check_form(flow, {**SAMPLED[0].sample, "email": "4111 1111 1111 1111@x.co"})
    assert str(refused.value).startswith("email: ") and "4111" not in str(refused.value)


def test_an_unknown_field_is_counted_never_named() -> None:
    """A card number typed as an option's name is refused without being repeated."""
    flow = SAMPLED[0].flow
    with pytest.raises(OperationRejected) as refused:
        check_form(flow, {**SAMPLED[0].sample, "4111111111111111": 1, "nope": 2})
    assert str(refused.value) == "parameters: 2 unknown fields"
    with pytest.raises(OperationRejected, match=r"^parameters: an unknown field$"):
        check_form(flow, {**SAMPLED[0].sample, "nope": 1})


def test_a_refusal_has_no_pydantic_prefix() -> None:
    flow = SAMPLED[0].flow
    with pytest.raises(OperationRejected) as refused:
        check_form(flow, {**SAMPLED[0].sample, "email": "4111 1111 1111 1111@x.co"})
    assert "Value error" not in str(refused.value)


AMOUNTS = [s for s in SAMPLED if {"amount", "currency"} <= set(form_model(s.flow.fn).model_fields)]


@pytest.mark.parametrize("scenario", AMOUNTS, ids=[s.command for s in AMOUNTS])
@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        ("100000000000", "VND", "amount: too large: at most 11 digits before the point"),
        ("1000000000", "ZAR", "amount: too large: at most 9 digits before the point in ZAR"),
        ("1.5", "JPY", "amount: the amount has more decimals than JPY allows"),
        ("1,500", "BHD", "amount: not an amount: write it like 199.99 (no sign, no commas, no"),
        ("378,282,246,310,005", "ZAR", "amount: not an amount"),
        ("1 500", "ZAR", "amount: not an amount: write it like 199.99 (no sign, no commas, no"),
        # 12 digits in all, Prefect's check refuses them: the currency's reason, not "too large".
        ("999999999.999", "ZAR", "amount: the amount has more decimals than ZAR allows"),
        ("1.0000", "ZAR", "amount: the amount has more decimals than ZAR allows"),
        ("000000000001.00", "ZAR", "amount: too many digits: at most 11 in all (write it without"),
        ("1234567890.00", "ZAR", "amount: too large: at most 9 digits before the point in ZAR"),
    ],
)
def test_what_the_flow_refuses_about_an_amount_is_refused_before_any_run(
    scenario: Any, amount: str, currency: str, why: str
) -> None:
    """R 1 000 000 000 (12 digits of cents) passes Prefect's check, as its text has 10 digits,
    but the flow's first line refuses it (and more decimals than JPY has): so does check_form."""
    form = {**scenario.sample, "amount": amount, "currency": currency}
    with pytest.raises(OperationRejected, match=re.escape(why)) as refused:
        check_form(scenario.flow, form)
    assert amount not in str(refused.value)
    assert "; " not in str(refused.value)  # one reason: the currency's


def test_there_are_forms_with_an_amount_and_a_currency() -> None:
    assert len(AMOUNTS) >= 5


def test_an_amount_in_the_forms_default_currency_is_held_to_it() -> None:
    scenario = AMOUNTS[0]
    form = {k: v for k, v in scenario.sample.items() if k != "currency"}
    with pytest.raises(OperationRejected, match="at most 9 digits before the point in ZAR"):
        check_form(scenario.flow, {**form, "amount": "1000000000"})
    check_form(scenario.flow, {**form, "amount": "999999999.99"})
