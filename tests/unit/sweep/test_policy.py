"""The sweep's decision table and the deadlines per network, without I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from payflows.domain.holds import DEFAULT_WINDOWS
from payflows.ledger.models import HoldDecision, HoldPolicy
from payflows.sandbox.engine import Engine
from payflows.settings import ConfigurationError, load_settings
from payflows.sweep import PlanAction, deadline_of, plan_for, windows_from_settings

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class FakeHold:
    brand: str | None = "visa"
    is_mit: bool = False
    extended: bool = False
    gateway_expires_at: datetime | None = None
    authorised_at: datetime = T0
    authorised_cents: int = 10_000
    decision: HoldDecision = HoldDecision.NONE
    decision_cents: int | None = None
    policy: HoldPolicy | None = None
    expires_at: datetime = T0 + 7 * DAY


@pytest.mark.parametrize(
    ("brand", "is_mit", "extended", "days"),
    [
        ("visa", False, False, 7),
        ("visa", True, False, 5),
        ("mastercard", False, False, 30),  # a skip_capture hold is a pre-authorisation
        ("maestro", False, False, 7),
        ("amex", False, False, 7),
        ("unionpay", False, False, 7),
        ("visa", False, True, 30),
    ],
)
def test_deadline_per_network(brand, is_mit, extended, days):
    hold = FakeHold(brand=brand, is_mit=is_mit, extended=extended)
    assert deadline_of(hold, DEFAULT_WINDOWS) == T0 + days * DAY
    assert DEFAULT_WINDOWS.act_by(T0 + days * DAY) == T0 + (days - 1) * DAY


def test_the_gateway_expiry_wins_over_the_table():
    hold = FakeHold(gateway_expires_at=T0 + 3 * DAY)
    assert deadline_of(hold, DEFAULT_WINDOWS) == T0 + 3 * DAY


def test_mastercard_final_authorisation_is_seven_days():
    assert DEFAULT_WINDOWS.window("mastercard", preauth=False) == 7 * DAY


@pytest.mark.parametrize(
    ("brand", "mit"),
    [("visa", False), ("visa", True), ("mastercard", False), ("maestro", False), ("amex", False)],
)
def test_ledger_deadlines_are_never_later_than_the_sandbox_expires_holds(brand, mit):
    purchase = SimpleNamespace(
        card=SimpleNamespace(brand=brand),
        payment_method_details={"card": {"is_recurring": mit}},
        skip_capture=True,
    )
    sandbox_seconds = Engine._hold_window(None, purchase)  # type: ignore[arg-type]
    ours = DEFAULT_WINDOWS.window(brand, is_mit=mit)
    assert ours.total_seconds() <= sandbox_seconds


def test_cancelled_is_voided_at_once_and_fulfilled_captured_at_once():
    early = T0 + timedelta(hours=1)
    void = plan_for(FakeHold(decision=HoldDecision.VOID), early)
    assert void.action is PlanAction.VOID and "cancelled" in void.reason
    full = plan_for(FakeHold(decision=HoldDecision.CAPTURE, decision_cents=10_000), early)
    assert full.action is PlanAction.CAPTURE and full.amount_cents is None
    part = plan_for(FakeHold(decision=HoldDecision.CAPTURE, decision_cents=2_500), early)
    assert part.action is PlanAction.CAPTURE and part.amount_cents == 2_500
    assert "partial" in part.reason


def test_undecided_waits_until_act_by_then_follows_the_default_policy():
    hold = FakeHold()
    act_by = T0 + 6 * DAY
    assert plan_for(hold, act_by - timedelta(seconds=1)).action is PlanAction.WAIT
    for default, action in (
        ("capture", PlanAction.CAPTURE),
        ("void", PlanAction.VOID),
        ("alert", PlanAction.ALERT),
    ):
        plan = plan_for(hold, act_by, default_policy=default)
        assert plan.action is action and "default policy" in plan.reason


def test_the_holds_own_policy_beats_the_default():
    hold = FakeHold(policy=HoldPolicy.ALERT)
    plan = plan_for(hold, T0 + 6 * DAY, default_policy="capture")
    assert plan.action is PlanAction.ALERT and "hold policy" in plan.reason
    late = plan_for(FakeHold(policy=HoldPolicy.VOID), T0 + 8 * DAY)
    assert late.action is PlanAction.VOID and "past its deadline" in late.reason


def test_a_wider_margin_acts_earlier():
    windows = windows_from_settings(load_settings(PAYFLOWS_HOLD_SAFETY_MARGIN_HOURS="48"))
    hold = FakeHold()
    assert plan_for(hold, T0 + 5 * DAY, windows=windows).action is PlanAction.CAPTURE
    assert plan_for(hold, T0 + 5 * DAY - timedelta(seconds=1), windows=windows).action is (
        PlanAction.WAIT
    )


def test_windows_can_be_overridden_per_network_from_settings(monkeypatch):
    monkeypatch.setenv("PAYFLOWS_HOLD_WINDOWS_DAYS", '{"visa_cit": 10, "amex": 6.5}')
    settings = load_settings()
    windows = windows_from_settings(settings)
    assert windows.window("visa") == 10 * DAY
    assert windows.window("visa", is_mit=True) == 5 * DAY
    assert windows.window("amex") == timedelta(days=6.5)
    assert windows.safety_margin == DAY


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"discover": 7}', "unknown window 'discover'"),
        ('{"visa_cit": 45}', "between 0 and 31"),
        ("visa=7", "PAYFLOWS_HOLD_WINDOWS_DAYS"),
    ],
)
def test_bad_window_overrides_stop_at_start(monkeypatch, value, message):
    monkeypatch.setenv("PAYFLOWS_HOLD_WINDOWS_DAYS", value)
    with pytest.raises(ConfigurationError, match=message):
        load_settings()


def test_default_policy_setting_is_checked():
    assert load_settings().hold_default_policy == "capture"
    with pytest.raises(ConfigurationError, match="PAYFLOWS_HOLD_DEFAULT_POLICY"):
        load_settings(PAYFLOWS_HOLD_DEFAULT_POLICY="maybe")


def test_the_sweep_is_served_hourly_with_a_form() -> None:
    from prefect.utilities.callables import parameter_schema

    from deployments import by_name
    from deployments.serve import runner_deployments
    from flows import ALL_FLOWS

    [sweep] = runner_deployments([by_name("preauth-sweep/hourly")])
    assert [s.schedule.cron for s in sweep.schedules] == ["0 * * * *"]
    schema = json.dumps(parameter_schema(ALL_FLOWS["preauth-sweep"]).model_dump())
    assert "as_of" in schema and "reconcile_all" in schema
