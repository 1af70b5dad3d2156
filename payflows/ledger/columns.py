"""How the ledger stores its values: the metadata, the column types, the base of every table.

Timestamps are aware UTC on both backends (:class:`UTCDateTime`), enumerations plain strings
(:class:`StrEnumType`), JSON is JSONB on PostgreSQL.

The tables live on their own ``MetaData`` (with a naming convention, so that every constraint
has the same name in the models, the migrations and the database) rather than on the global
``SQLModel.metadata``, which other packages may fill with tables of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

__all__ = [
    "NAMING_CONVENTION",
    "JSONType",
    "LedgerModel",
    "StrEnumType",
    "UTCDateTime",
    "enum_field",
    "metadata",
    "timestamp_field",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both backends.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is stored as naive
    UTC and made aware again on the way out. A naive datetime on the way in is refused: it is
    almost always ``datetime.utcnow()`` or local time by mistake, and guessing would shift money
    deadlines by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the ledger stores aware datetimes only (use datetime.now(UTC))")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrEnumType(TypeDecorator[StrEnum]):
    """A ``StrEnum`` stored as plain ``VARCHAR(20)``.

    Plain strings rather than native PostgreSQL enums keep migrations simple (adding a value is
    not an ``ALTER TYPE``) and identical on SQLite; the Python side still refuses unknown values.
    """

    impl = String(20)
    cache_ok = True

    def __init__(self, enum_cls: type[StrEnum]) -> None:
        super().__init__()
        self.enum_cls = enum_cls

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum_cls(value)


#: JSON on SQLite, JSONB on PostgreSQL (indexable, and compact on disk).
JSONType = JSON().with_variant(JSONB(), "postgresql")


def timestamp_field(*, nullable: bool = False, **kw: Any) -> Any:
    """A field stored as :class:`UTCDateTime` (typed ``Any``, as sqlmodel's ``Field`` is)."""
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


def enum_field(enum_cls: type[StrEnum], **kw: Any) -> Any:
    """A field holding a member of ``enum_cls``, stored as its string value."""
    return Field(sa_type=StrEnumType(enum_cls), **kw)


class LedgerModel(SQLModel, registry=registry(metadata=metadata)):
    """Base of every ledger table; binds them to the ledger's own metadata."""
