"""Run names: one helper for the pipelines (a day) and the scenarios (a business id), and a run
name never carries card data, whatever a parameter holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from flows._forms import run_name
from flows._names import MAX_SHOWN
from flows._pipeline import pipeline_run_name
from flows.customer_initiated import customer_initiated_payment
from flows.sweep import preauth_sweep

RUN_ID = "0b8f6a2e-3c1d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def parameters(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set what ``prefect.runtime.flow_run`` says of the current run."""
    from prefect.runtime import flow_run

    def given(**values: Any) -> None:
        monkeypatch.setattr(flow_run, "parameters", values, raising=False)
        monkeypatch.setattr(flow_run, "id", RUN_ID, raising=False)

    return given


def test_a_pipeline_run_is_named_by_its_day(parameters: Callable[..., None]) -> None:
    name = pipeline_run_name("report", "date_to", "as_of")
    parameters(date_to=date(2026, 1, 31), as_of=None)
    assert name() == "report-2026-01-31"
    parameters(date_to=None, as_of=datetime(2026, 1, 31, 9, tzinfo=timezone(timedelta(hours=2))))
    assert name() == "report-2026-01-31T07:00Z"  # in UTC
    parameters(date_to="", as_of="2026-01-31T07:00")  # naive is UTC
    assert name() == "report-2026-01-31T07:00Z"


def test_a_pipeline_run_without_its_day_is_named_by_the_clock(
    parameters: Callable[..., None],
) -> None:
    parameters(as_of=None)
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    named = pipeline_run_name("billing", "as_of")()
    assert named.startswith("billing-")
    at = datetime.strptime(named.removeprefix("billing-"), "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    assert before <= at <= datetime.now(UTC)


def test_a_scenario_run_is_named_by_its_business_id_or_its_run(
    parameters: Callable[..., None],
) -> None:
    name = run_name("cit", "order_id")
    parameters(order_id="ORDER-2026/12:03.a")
    assert name() == "cit-ORDER-2026/12:03.a"
    parameters(order_id="")
    assert name() == f"cit-run-{RUN_ID}"
    parameters()
    assert name() == f"cit-run-{RUN_ID}"


@pytest.mark.parametrize(
    "value",
    [
        "4111111111111111",  # a card number
        "ORDER-4111-1111-1111-1111",  # one inside an id
        "pay me 4111 1111 1111 1111",  # free text
        "x" * (MAX_SHOWN + 1),  # too long to be an id
    ],
)
def test_a_run_name_never_shows_what_is_no_business_id(
    parameters: Callable[..., None], value: str
) -> None:
    parameters(order_id=value, as_of=value)
    assert run_name("cit", "order_id")() == f"cit-run-{RUN_ID}"
    assert pipeline_run_name("sweep", "as_of")() == "sweep-given"


def test_the_flows_use_the_one_helper() -> None:
    """Both kinds of flows are named by :func:`flows._names.flow_run_namer`'s names."""
    for flow in (customer_initiated_payment, preauth_sweep):
        namer = flow.flow_run_name
        assert callable(namer) and namer.__qualname__ == "flow_run_namer.<locals>.name"
