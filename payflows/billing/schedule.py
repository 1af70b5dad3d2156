"""When a subscription is billed next, and which period a billing date names.

Months are uneven, so a monthly subscription started on the 31st cannot keep "the same day":
each date is computed from the subscription's *anchor day* (the day of month it was first
billed), clamped to the month's length. Jan 31 -> Feb 28 (29 in a leap year) -> Mar 31, never
drifting down to the 28th for good, which a naive "add one month to the last date" would do.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import datetime, timedelta
from enum import StrEnum

from payflows.ledger.models import IntervalUnit

__all__ = [
    "CatchUp",
    "add_interval",
    "due_periods",
    "period_key",
    "period_to_bill",
]


class CatchUp(StrEnum):
    """What to do with periods missed while billing did not run (an outage, a long pause).

    ``skip`` bills only the latest due period: a customer is never hit by a burst of charges.
    ``catch_up`` bills every missed period, oldest first, one per run.
    """

    SKIP = "skip"
    CATCH_UP = "catch_up"


def _add_months(value: datetime, months: int, anchor_day: int) -> datetime:
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def add_interval(
    value: datetime,
    unit: IntervalUnit | str,
    count: int = 1,
    *,
    anchor_day: int | None = None,
) -> datetime:
    """The billing date ``count`` units after ``value``; months and years keep ``anchor_day``.

    ``anchor_day`` defaults to ``value``'s own day; pass the subscription's original day so a
    date clamped to a short month returns to the 31st afterwards.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    unit = IntervalUnit(unit)
    anchor = anchor_day or value.day
    if unit is IntervalUnit.DAY:
        return value + timedelta(days=count)
    if unit is IntervalUnit.WEEK:
        return value + timedelta(weeks=count)
    months = count if unit is IntervalUnit.MONTH else 12 * count
    return _add_months(value, months, anchor)


def due_periods(
    first: datetime,
    as_of: datetime,
    unit: IntervalUnit | str,
    count: int = 1,
    *,
    anchor_day: int | None = None,
    limit: int = 10_000,
) -> Iterator[datetime]:
    """Billing dates from ``first`` up to and including ``as_of``, oldest first."""
    current = first
    for _ in range(limit):
        if current > as_of:
            return
        yield current
        current = add_interval(current, unit, count, anchor_day=anchor_day)


def period_to_bill(
    next_billing_at: datetime,
    as_of: datetime,
    unit: IntervalUnit | str,
    count: int = 1,
    *,
    anchor_day: int | None = None,
    policy: CatchUp | str = CatchUp.SKIP,
) -> datetime | None:
    """The billing date to charge now, or None when nothing is due.

    ``catch_up`` returns the oldest unpaid period (``next_billing_at`` itself); ``skip`` returns
    the latest due one, so missed periods are passed over without a charge.
    """
    if next_billing_at > as_of:
        return None
    if CatchUp(policy) is CatchUp.CATCH_UP:
        return next_billing_at
    periods = due_periods(next_billing_at, as_of, unit, count, anchor_day=anchor_day)
    latest = next_billing_at
    for period in periods:
        latest = period
    return latest


def period_key(billing_date: datetime) -> str:
    """The period a billing date names in business keys: its calendar date, ``2026-02-28``."""
    return billing_date.strftime("%Y-%m-%d")
