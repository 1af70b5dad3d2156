"""The settlement-report flow's parameters and its daily schedule when served."""

from __future__ import annotations

from datetime import date

import pytest
from prefect.exceptions import ParameterTypeError, SignatureMismatchError

from flows import ALL_FLOWS, settlement_report
from payflows.reports import resolve_period


def test_report_parameters_defaults_and_validation() -> None:
    params = settlement_report.validate_parameters({})
    assert (params["date_from"], params["date_to"], params["timezone"]) == (None, None, None)
    assert params["reconcile"] and params["track_settlement"] and params["output_dir"] is None
    with pytest.raises(ParameterTypeError, match="unknown time zone"):
        settlement_report.validate_parameters({"timezone": "Mars/Olympus"})
    with pytest.raises(ValueError, match="before date_from"):
        resolve_period(date(2026, 12, 2), date(2026, 12, 1), "Africa/Johannesburg")
    with pytest.raises(SignatureMismatchError) as unknown:  # no such field, and no echo
        settlement_report.validate_parameters({"card_number": "4111111111111111"})
    assert "4111" not in str(unknown.value)


def test_every_report_parameter_is_its_own_field_with_help() -> None:
    schema = settlement_report.parameters.model_dump()
    props = schema["properties"]
    assert "params" not in props and {"date_from", "date_to", "as_of", "output_dir"} <= set(props)
    assert all(p.get("description") for p in props.values()), props
    # The technical ones last in the form, and said to be.
    assert list(props)[-2:] == ["output_dir", "concurrency"]
    assert props["concurrency"]["description"].startswith("Technical")


def test_the_report_is_deployed_daily_after_the_day_ends() -> None:
    from deployments import by_name
    from deployments.serve import runner_deployments
    from flows.report import DAILY_CRON

    assert "settlement-report" in ALL_FLOWS
    [daily] = runner_deployments([by_name("settlement-report/daily")])
    (schedule,) = daily.schedules
    assert schedule.schedule.cron == DAILY_CRON == "15 0 * * *"
    assert schedule.schedule.timezone == "Africa/Johannesburg"
