"""Bulk reads and writes of one import chunk, through the driver with SQLAlchemy's own types.

The writers in :mod:`payflows.imports._store` decide what happens to each row; this module
makes the few statements a chunk costs: one ``IN`` query per table referred to (on SQLite one
range of the key's index when that is cheaper), one ``INSERT ... ON CONFLICT DO NOTHING``
``executemany`` of the new rows, one ``UPDATE`` ``executemany`` of the changed ones. The SQL is
the same on SQLite and PostgreSQL (but for that range and the insert's time stamps) and every
value goes through its column's own type processing, so what lands is what the ORM would have
written; only the ORM's per-object and per-parameter bookkeeping is skipped, which cost more
than the database's own work (bench/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, update

from payflows.imports.results import ChunkCounts
from payflows.ledger import UnitOfWork
from payflows.ledger.models import utcnow

__all__ = ["Known", "New", "apply", "lookup", "lookup_rows"]

_IN_BATCH = 5000


def lookup(
    uow: UnitOfWork, table: Table, key: str, keys: set[str], names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``{key: {name: value}}`` for the keys already in ``table`` (see :func:`lookup_rows`)."""
    labels = (key, *names)
    return {
        row[0]: dict(zip(labels, row, strict=True))
        for row in lookup_rows(uow, table, key, keys, names)
    }


def lookup_rows(
    uow: UnitOfWork,
    table: Table,
    key: str,
    keys: set[str],
    names: Sequence[str],
    *,
    convert: bool = True,
) -> list[tuple[Any, ...]]:
    """``(key, *names)`` of the rows already in ``table`` among ``keys``: ``IN`` queries, or on
    SQLite one range of the key's index when that is cheaper (:func:`_in_range`).

    Only the columns the writer needs, sent to the driver as plain SQL (the same on SQLite and
    PostgreSQL) and read back through each column's own type. Loading ORM objects cost more
    than everything else the import does, and even a Core ``IN`` compiles a bound parameter
    per key on every chunk. ``convert=False`` leaves the values as the driver gives them, for a
    caller that only asks whether a value is NULL.
    """
    if not keys:
        return []
    conn = uow.session.connection()
    dialect = conn.dialect
    columns = [table.c[key], *(table.c[n] for n in names)]
    processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    select_list = ", ".join(c.name for c in columns)
    processed = [(i, p) for i, p in enumerate(processors) if p is not None and convert]
    found: list[tuple[Any, ...]] = []
    cursor = conn.connection.cursor()  # the DBAPI cursor: plain tuples, no Row objects
    try:
        if dialect.name == "sqlite":
            ranged = _in_range(cursor, f"SELECT {select_list} FROM {table.name}", key, keys)
            if ranged is not None:
                return [_converted(row, processed) for row in ranged] if processed else ranged
        every = list(keys)
        for start in range(0, len(every), _IN_BATCH):
            batch = every[start : start + _IN_BATCH]
            cursor.execute(
                f"SELECT {select_list} FROM {table.name} "
                f"WHERE {key} IN ({', '.join([mark] * len(batch))})",
                batch,
            )
            rows = cursor.fetchall()
            if processed:
                rows = [_converted(row, processed) for row in rows]
            found.extend(rows)
    finally:
        cursor.close()
    return found


def _in_range(cursor: Any, select: str, key: str, keys: set[str]) -> list[tuple[Any, ...]] | None:
    """The rows among ``keys`` read as one range of the key's unique index (SQLite), or None
    when the range holds more than twice as many rows as there are keys (then ``IN`` is cheaper).

    A file's keys usually come in order, so a chunk's keys are (nearly) all the keys between its
    least and its greatest: one index seek and a walk, instead of a seek per key, half the CPU of
    the ``IN`` query (and a chunk of new records costs a single seek that finds nothing). The rows
    outside ``keys`` are dropped, so the answer is the ``IN`` query's. SQLite compares text by its
    UTF-8 bytes (the key columns have no collation of their own), which orders as Python orders
    ``str``, so ``min``/``max`` bound every key; PostgreSQL's collations may not: ``IN`` there.
    """
    limit = 2 * len(keys)
    cursor.execute(
        f"{select} WHERE {key} BETWEEN ? AND ? LIMIT ?", (min(keys), max(keys), limit + 1)
    )
    rows: list[tuple[Any, ...]] = cursor.fetchall()
    if len(rows) > limit:
        return None
    return [row for row in rows if row[0] in keys]


def _converted(row: tuple[Any, ...], convert: list[tuple[int, Any]]) -> tuple[Any, ...]:
    values = list(row)
    for i, process in convert:
        if values[i] is not None:
            values[i] = process(values[i])
    return tuple(values)


class Known:
    """Records of this chunk already in the ledger, as ``{column: value}`` dicts with their id.

    A changed one is remembered and written back by :meth:`flush` in one ``executemany``
    UPDATE per set of columns, instead of an ORM flush per object.
    """

    def __init__(
        self, uow: UnitOfWork, table: Table, key: str, keys: set[str], fields: Sequence[str]
    ):
        self.table, self.fields = table, tuple(fields)
        extra = ("customer_id", "status", "attempt_id")
        names = ["id", *(f for f in (*self.fields, *extra) if f in table.c)]
        self.rows: dict[str, dict[str, Any]] = lookup(uow, table, key, keys, names)
        self.changed: dict[int, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.rows.get(key)

    def flush(self, uow: UnitOfWork) -> None:
        if not self.changed:
            return
        now = utcnow()
        stmt = (
            update(self.table)
            .where(self.table.c.id == bindparam("_id"))
            .values({f: bindparam(f) for f in (*self.fields, "updated_at")})
        )
        params = [
            {"_id": row_id, "updated_at": now, **{f: row[f] for f in self.fields}}
            for row_id, row in self.changed.items()
        ]
        uow.session.execute(stmt, params)


def apply(obj: dict[str, Any], fields: dict[str, Any], counts: ChunkCounts, known: Known) -> None:
    """Update a record: one already in the ledger (``id`` set) or one new in this chunk."""
    changed = False
    for name, value in fields.items():
        if obj.get(name) != value:
            obj[name] = value
            changed = True
    if changed:
        if "id" in obj and obj["id"] is not None:
            known.changed[obj["id"]] = obj
        counts.updated += 1
    else:
        counts.unchanged += 1


class New:
    """Records new in this chunk, inserted at the end by one ``executemany``.

    Each is a tuple of Python values in ``columns`` order (the key first). ``INSERT ... ON
    CONFLICT (key) DO NOTHING`` (the same SQL on SQLite and PostgreSQL) is sent to the driver
    directly, each value converted by its column's own SQLAlchemy type once per distinct value
    in the chunk (a chunk has a few billing dates and enum values, not one per row): no ORM
    objects, no primary keys fetched back, and none of the per-row parameter bookkeeping of a
    compiled Core statement, which cost more than SQLite's own work. ``ON CONFLICT`` keeps a
    concurrent import of the same file harmless.
    """

    def __init__(self, model: Any, columns: Sequence[str]) -> None:
        self.table: Table = model.__table__
        self.columns = tuple(columns)
        self.key = self.columns[0]
        #: The new records by key, each its values in ``columns`` order: the writers add to it
        #: directly (``rows[key] = values``), a method call per row cost more than the rest.
        self.rows: dict[str, tuple[Any, ...]] = {}
        self.now = utcnow()

    def get(self, key: str) -> dict[str, Any] | None:
        """The record new in this chunk under ``key`` as ``{column: value}``, or None."""
        row = self.rows.get(key)
        return None if row is None else dict(zip(self.columns, row, strict=True))

    def put(self, record: dict[str, Any]) -> None:
        """A record taken with :meth:`get` and changed, back in."""
        self.rows[record[self.key]] = tuple(record[c] for c in self.columns)

    def flush(self, uow: UnitOfWork, counts: ChunkCounts) -> None:
        counts.inserted += len(self.rows)
        if not self.rows:
            return
        conn = uow.session.connection()
        dialect = conn.dialect
        stamp_process = _processor(self.table.c.created_at, dialect)
        stamp = stamp_process(self.now) if stamp_process else self.now
        rows: Any = self.rows.values()
        convert = [
            (i, process)
            for i, name in enumerate(self.columns)
            if (process := _processor(self.table.c[name], dialect)) is not None
        ]
        if convert:
            # Column by column (every row has every column: zip's strict check costs more than
            # the conversion, so it is left out).
            columns = list(zip(*rows))  # noqa: B905
            for i, process in convert:
                columns[i] = _converted_column(columns[i], process)
            rows = zip(*columns)  # noqa: B905
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        if isinstance(stamp, str) and _SQL_STAMP.fullmatch(stamp):
            # SQLite stores the stamp as text: written once into the statement, so that the rows
            # go to the driver as they are (no tuple rebuilt per row only to add the two stamps).
            stamps = f"'{stamp}', '{stamp}'"
        else:
            stamps = f"{mark}, {mark}"
            rows = [(*row, stamp, stamp) for row in rows]
        sql = (
            f"INSERT INTO {self.table.name} ({', '.join(self.columns)}, created_at, updated_at) "
            f"VALUES ({', '.join([mark] * len(self.columns))}, {stamps}) "
            f"ON CONFLICT ({self.key}) DO NOTHING"
        )
        conn.exec_driver_sql(sql, list(rows))
        self.rows = {}


#: A time stamp as SQLite's DATETIME stores it (digits, dashes, colons, a space, a dot): safe to
#: write into a statement as a literal.
_SQL_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?")


def _converted_column(values: tuple[Any, ...], process: Any) -> tuple[Any, ...]:
    """``values`` through ``process`` (a column type's bind processor: a pure function), called
    once per distinct value: a chunk has a few billing dates and enum values, not one per row.
    Equal values give equal results (an aware datetime is converted to UTC first)."""
    try:
        done = {value: process(value) for value in set(values) if value is not None}
    except TypeError:  # an unhashable value: each converted on its own
        return tuple(None if v is None else process(v) for v in values)
    done[None] = None
    return tuple(map(done.__getitem__, values))


def _processor(column: Any, dialect: Any) -> Any:
    """The function that turns a Python value into what ``dialect``'s driver takes, or None."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)
