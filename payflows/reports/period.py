"""The reporting period: calendar days in the merchant's time zone, as UTC bounds for SQL.

Finance counts days the way the merchant's shop does (Africa/Johannesburg by default), not in
UTC: a card paid at 01:30 SAST on the 2nd belongs to the 2nd even though it is still the 1st in
UTC. The ledger stores UTC; this module turns ``[date_from, date_to]`` (inclusive) into the
half-open UTC interval ``[start_utc, end_utc)`` that selects exactly those local days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from payflows.domain.screening import redact

__all__ = ["DEFAULT_TIMEZONE", "Period", "resolve_period", "zone"]

DEFAULT_TIMEZONE = "Africa/Johannesburg"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a clear ValueError for a misspelt one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {redact(name)!r} (use an IANA name such as Africa/Johannesburg)"
        ) from None


@dataclass(frozen=True, slots=True)
class Period:
    """Local calendar days ``date_from`` .. ``date_to`` (inclusive) in ``timezone``."""

    date_from: date
    date_to: date
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        if self.date_to < self.date_from:
            raise ValueError(
                f"the period ends ({self.date_to}) before it starts ({self.date_from})"
            )
        zone(self.timezone)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.date_from, time(0), self.tz).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.date_to + timedelta(days=1), time(0), self.tz).astimezone(UTC)

    @property
    def label(self) -> str:
        """``2026-12-01_2026-12-07``: the folder the report is written to."""
        return f"{self.date_from.isoformat()}_{self.date_to.isoformat()}"

    @property
    def days(self) -> list[date]:
        n = (self.date_to - self.date_from).days + 1
        return [self.date_from + timedelta(days=i) for i in range(n)]


#: The days a report may cover, as CSV dates are bounded: a day near ``date.max`` or
#: ``date.min`` passes the parse but overflows the period's arithmetic (its instants in UTC,
#: the days after it a settlement is awaited).
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


def resolve_period(
    date_from: date | None,
    date_to: date | None,
    timezone: str = DEFAULT_TIMEZONE,
    as_of: datetime | None = None,
) -> Period:
    """The period a run covers, filling what was not given.

    With neither date: the day of ``as_of`` when it is given, else yesterday (the daily
    schedule reports the day that just ended), both in the merchant's time zone. One date alone
    is a single day.
    """
    tz = zone(timezone)
    if date_from is None and date_to is None:
        if as_of is not None:
            if as_of.tzinfo is None:
                raise ValueError("as_of must be an aware datetime")
            day = as_of.astimezone(tz).date()
        else:
            day = datetime.now(tz).date() - timedelta(days=1)
        date_from = date_to = day
    elif date_from is None:
        date_from = date_to
    elif date_to is None:
        date_to = date_from
    assert date_from is not None and date_to is not None
    if not (EARLIEST <= date_from <= LATEST and EARLIEST <= date_to <= LATEST):
        raise ValueError(f"the period must be between {EARLIEST} and {LATEST}")
    if date_to < date_from:
        raise ValueError(f"date_to ({date_to}) is before date_from ({date_from})")
    return Period(date_from, date_to, timezone)
