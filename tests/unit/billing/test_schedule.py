"""Billing dates: month ends anchored on the original day, leap years, catch-up policies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from payflows.billing.schedule import CatchUp, add_interval, due_periods, period_key, period_to_bill


def d(y: int, m: int, day: int) -> datetime:
    return datetime(y, m, day, 6, 0, tzinfo=UTC)


def test_month_end_anchor_returns_to_the_31st():
    jan = d(2026, 1, 31)
    feb = add_interval(jan, "month", anchor_day=31)
    assert feb == d(2026, 2, 28)
    assert add_interval(feb, "month", anchor_day=31) == d(2026, 3, 31)
    assert add_interval(d(2026, 3, 31), "month", anchor_day=31) == d(2026, 4, 30)


def test_leap_year_february():
    assert add_interval(d(2028, 1, 31), "month", anchor_day=31) == d(2028, 2, 29)
    assert add_interval(d(2028, 1, 30), "month") == d(2028, 2, 29)
    assert add_interval(d(2028, 2, 29), "year", anchor_day=29) == d(2029, 2, 28)
    assert add_interval(d(2029, 2, 28), "year", 3, anchor_day=29) == d(2032, 2, 29)


def test_without_anchor_a_clamped_date_keeps_its_own_day():
    assert add_interval(d(2026, 2, 28), "month") == d(2026, 3, 28)


@pytest.mark.parametrize(
    ("unit", "count", "expected"),
    [
        ("day", 1, d(2026, 1, 1)),
        ("day", 10, d(2026, 1, 10)),
        ("week", 2, d(2026, 1, 14)),
        ("month", 3, d(2026, 3, 31)),
        ("month", 13, d(2027, 1, 31)),
        ("year", 1, d(2026, 12, 31)),
    ],
)
def test_units_and_counts(unit, count, expected):
    assert add_interval(d(2025, 12, 31), unit, count, anchor_day=31) == expected


def test_time_of_day_is_kept_and_count_must_be_positive():
    assert add_interval(d(2026, 1, 31), "month").hour == 6
    with pytest.raises(ValueError):
        add_interval(d(2026, 1, 1), "month", 0)


def test_period_key_is_the_billing_date():
    assert period_key(d(2026, 2, 28)) == "2026-02-28"


def test_due_periods_and_catch_up_policies():
    periods = list(due_periods(d(2026, 1, 31), d(2026, 4, 30), "month", anchor_day=31))
    assert periods == [d(2026, 1, 31), d(2026, 2, 28), d(2026, 3, 31), d(2026, 4, 30)]
    as_of = d(2026, 4, 15)
    assert period_to_bill(d(2026, 1, 31), as_of, "month", anchor_day=31) == d(2026, 3, 31)
    assert period_to_bill(
        d(2026, 1, 31), as_of, "month", anchor_day=31, policy=CatchUp.CATCH_UP
    ) == d(2026, 1, 31)
    assert period_to_bill(d(2026, 5, 1), as_of, "month") is None
    assert period_to_bill(as_of, as_of, "week") == as_of
