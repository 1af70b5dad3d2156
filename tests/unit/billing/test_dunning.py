"""Every dunning rule: schedule, hard declines, Mastercard advice codes, network caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payflows.billing.dunning import Action, DunningPolicy
from payflows.ledger import SubscriptionStatus

NOW = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
POLICY = DunningPolicy()


def decide(policy: DunningPolicy = POLICY, **kwargs):
    args = {"now": NOW, "failed_attempts": 1, "decline_code": "insufficient_funds"}
    args.update(kwargs)
    return policy.decide(**args)


@pytest.mark.parametrize(("n", "days"), [(1, 1), (2, 3), (3, 5), (4, 7)])
def test_soft_decline_follows_the_default_schedule(n, days):
    decision = decide(failed_attempts=n, network_code="51", brand="visa")
    assert decision.action is Action.RETRY and decision.status is SubscriptionStatus.PAST_DUE
    assert decision.retry_at == NOW + timedelta(days=days)
    assert "insufficient_funds" in decision.reason


def test_retries_exhausted_suspends():
    decision = decide(failed_attempts=5, brand="visa")
    assert decision.action is Action.SUSPEND and decision.status is SubscriptionStatus.SUSPENDED
    assert "exhausted" in decision.reason


def test_custom_schedule():
    policy = DunningPolicy(schedule=(timedelta(hours=2),))
    assert decide(policy).retry_at == NOW + timedelta(hours=2)
    assert decide(policy, failed_attempts=2).action is Action.SUSPEND


@pytest.mark.parametrize("code", ["04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1"])
def test_visa_category_1_never_retried(code):
    decision = decide(decline_code="authorization_failed", network_code=code, brand="visa")
    assert decision.action is Action.SUSPEND
    assert decision.reason == f"hard decline authorization_failed network {code}"


@pytest.mark.parametrize("code", ["expired_card", "stolen_card", "recurring_token_expired"])
def test_hard_gateway_codes_never_retried(code):
    assert decide(decline_code=code).action is Action.SUSPEND


@pytest.mark.parametrize("advice", ["03", "21"])
def test_mastercard_stop_advice(advice):
    decision = decide(decline_code="do_not_honour", advice_code=advice, brand="mastercard")
    assert decision.action is Action.SUSPEND


@pytest.mark.parametrize(
    ("advice", "delay"),
    [
        ("24", timedelta(hours=1)),
        ("25", timedelta(hours=24)),
        ("26", timedelta(days=2)),
        ("27", timedelta(days=4)),
        ("28", timedelta(days=6)),
        ("29", timedelta(days=8)),
        ("30", timedelta(days=10)),
    ],
)
def test_mastercard_advice_sets_the_delay(advice, delay):
    decision = decide(network_code="51", advice_code=advice, brand="mastercard")
    assert decision.action is Action.RETRY and decision.retry_at == NOW + delay


def test_visa_cap_per_30_days_configurable():
    history = [NOW - timedelta(days=i) for i in range(15)]
    assert decide(brand="visa", recent_attempts=history).action is Action.SUSPEND
    relaxed = DunningPolicy(visa_cap_30d=20)
    assert decide(relaxed, brand="visa", recent_attempts=history).action is Action.RETRY
    old = [NOW - timedelta(days=40)] * 30
    assert decide(brand="visa", recent_attempts=old).action is Action.RETRY


def test_mastercard_cap_per_30_days():
    history = [NOW - timedelta(days=1, hours=i) for i in range(35)]
    assert decide(brand="mastercard", recent_attempts=history).action is Action.SUSPEND
    assert decide(brand="mastercard", recent_attempts=history[:20]).action is Action.RETRY


def test_mastercard_10_per_24h_pushes_the_retry():
    policy = DunningPolicy(schedule=(timedelta(minutes=10),))
    history = [NOW - timedelta(minutes=5 * i) for i in range(10)]  # 10 in the last 45 minutes
    decision = decide(policy, brand="mastercard", recent_attempts=history)
    assert decision.action is Action.RETRY
    oldest = min(history)
    assert decision.retry_at == oldest + timedelta(hours=24)
    window = [t for t in history if t > decision.retry_at - timedelta(hours=24)]
    assert len(window) + 1 <= 10


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (
            {"decline_code": "do_not_honour", "advice_code": "21", "brand": "mastercard"},
            "mastercard advice 21",
        ),
        ({"decline_code": "expired_card"}, "hard decline expired_card"),
        ({"failed_attempts": 5, "brand": "visa"}, "retries exhausted"),
        ({"brand": "visa", "recent_attempts": [NOW] * 15}, "visa 30-day retry cap"),
        ({"brand": "visa"}, "soft decline insufficient_funds"),
        (
            {"network_code": "51", "advice_code": "24", "brand": "mastercard"},
            "mastercard advice 24",
        ),
    ],
)
def test_reasons_are_short_and_countable(kwargs, reason):
    # No timestamps or counters in a reason: the billing summary counts subscriptions by it.
    assert decide(**kwargs).reason == reason
