"""The basics of every wire model: timestamps and cents as the gateway writes them, and the two
bases, tolerant for what we read and strict for what we write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = ["Cents", "Page", "ReadModel", "Timestamp", "WriteModel", "drop_nulls", "to_utc"]


def to_utc(value: Any) -> datetime | None:
    """Unix seconds (int, float or digits) or ISO-8601 to an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a timestamp, not a boolean")
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            text = value.strip()
            try:
                return datetime.fromtimestamp(float(text), UTC)
            except ValueError:
                value = datetime.fromisoformat(text)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"timestamp out of range: {value!r}") from exc
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("an amount in integer cents, not a boolean")
    return value


#: An aware UTC datetime, read from Unix seconds or an ISO-8601 string; None when absent.
Timestamp = Annotated[datetime | None, BeforeValidator(to_utc)]
#: Integer minor units. Fractional floats are refused by pydantic's int; booleans by us.
Cents = Annotated[int, BeforeValidator(_no_bool)]


def drop_nulls(data: Any) -> Any:
    """``null`` from the gateway means "not there": let the field's default apply."""
    if isinstance(data, Mapping):
        return {k: v for k, v in data.items() if v is not None}
    return data


class ReadModel(BaseModel):
    """Base for what the gateway sends: tolerant of extra keys, nulls, both shapes."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        return drop_nulls(data)


class WriteModel(BaseModel):
    """Base for what we send: strict, so a typo fails here and not silently at the gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


T = TypeVar("T")


class Page(ReadModel, Generic[T]):
    """One page of a list; ``next``/``previous`` are the gateway's URLs or None."""

    results: list[T] = Field(default_factory=list)
    next: str | None = None
    previous: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        return {"results": data} if isinstance(data, list) else data
