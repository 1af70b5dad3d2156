"""``as_of`` in the flows' parameters: one reading of a timestamp without a zone, UTC.

A naive ``as_of`` would otherwise be read as the worker's local time by ``astimezone`` (and the
CLI reads it as UTC): the same text would bill a different set, or put an MIT charge in another
period (``mit:{sub}:{YYYY-MM}``), depending on where it ran.

In a form it is one plain text field, ISO, empty for now (:mod:`flows._empty`): a date-time
picker cannot be left empty there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

from flows._empty import EMPTY_IS_NONE, ISO_TIME_PATTERN, empty_default, text_schema

__all__ = ["AsOf", "as_utc"]


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC; a naive one is taken as UTC (as the CLI's ``parse_as_of`` does)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: An optional ``as_of``: naive taken as UTC, aware converted to UTC; empty (``""``) or None is
#: now. A text field in the schema (ISO, a zone or none), defaulting to empty.
AsOf = Annotated[
    datetime | None,
    EMPTY_IS_NONE,
    AfterValidator(as_utc),
    text_schema(ISO_TIME_PATTERN, max_length=35),
    empty_default(),
]
