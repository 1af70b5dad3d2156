"""The settlement-report flow's parameters and its daily schedule when served."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from flows import ALL_FLOWS, ReportRequest


def test_report_request_defaults_and_validation() -> None:
    request = ReportRequest()
    assert (request.date_from, request.date_to, request.timezone) == (None, None, None)
    assert request.reconcile and request.track_settlement and request.output_dir is None
    with pytest.raises(ValidationError, match="unknown time zone"):
        ReportRequest(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="before date_from"):
        ReportRequest(date_from=date(2026, 12, 2), date_to=date(2026, 12, 1))
    with pytest.raises(ValidationError):
        ReportRequest(card_number="4111111111111111")  # type: ignore[call-arg]


def test_the_report_is_deployed_daily_after_the_day_ends() -> None:
    from deployments import by_name
    from deployments.serve import runner_deployments
    from flows.report import DAILY_CRON

    assert "settlement-report" in ALL_FLOWS
    [daily] = runner_deployments([by_name("settlement-report/daily")])
    (schedule,) = daily.schedules
    assert schedule.schedule.cron == DAILY_CRON == "15 0 * * *"
    assert schedule.schedule.timezone == "Africa/Johannesburg"
