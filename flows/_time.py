"""``as_of`` in the flows' parameters: one reading of a timestamp without a zone, UTC.

A naive ``as_of`` would otherwise be read as the worker's local time by ``astimezone`` (and the
CLI reads it as UTC): the same text would bill a different set, or put an MIT charge in another
period (``mit:{sub}:{YYYY-MM}``), depending on where it ran.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["AsOf", "as_utc"]


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC; a naive one is taken as UTC (as the CLI's ``parse_as_of`` does)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: An optional ``as_of``: naive taken as UTC, aware converted to UTC.
AsOf = Annotated[datetime | None, AfterValidator(as_utc)]
