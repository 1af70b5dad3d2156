"""Bulk reads and writes of one import chunk, through the driver with SQLAlchemy's own types.

The writers in :mod:`payflows.imports._store` decide what happens to each row; this module
makes the few statements a chunk costs: one ``IN`` query per table referred to, one
``INSERT ... ON CONFLICT DO NOTHING`` ``executemany`` of the new rows, one ``UPDATE``
``executemany`` of the changed ones. The SQL is the same on SQLite and PostgreSQL and every
value goes through its column's own type processing, so what lands is what the ORM would have
written; only the ORM's per-object and per-parameter bookkeeping is skipped, which cost more
than the database's own work (bench/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, update

from payflows.imports.results import ChunkCounts
from payflows.ledger import UnitOfWork
from payflows.ledger.models import utcnow

__all__ = ["Known", "New", "apply", "lookup", "pending"]

_IN_BATCH = 5000


def lookup(
    uow: UnitOfWork, table: Table, key: str, keys: set[str], names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``{key: {name: value}}`` for the keys already in ``table``: ``IN`` queries of plain rows.

    Only the columns the writer needs, sent to the driver as plain SQL (the same on SQLite and
    PostgreSQL) and read back through each column's own type. Loading ORM objects cost more
    than everything else the import does, and even a Core ``IN`` compiles a bound parameter
    per key on every chunk.
    """
    if not keys:
        return {}
    conn = uow.session.connection()
    dialect = conn.dialect
    columns = [table.c[key], *(table.c[n] for n in names)]
    processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    select_list = ", ".join(c.name for c in columns)
    convert = [(i, p) for i, p in enumerate(processors) if p is not None]
    labels = (key, *names)
    every = list(keys)
    found: dict[str, dict[str, Any]] = {}
    cursor = conn.connection.cursor()  # the DBAPI cursor: plain tuples, no Row objects
    try:
        for start in range(0, len(every), _IN_BATCH):
            batch = every[start : start + _IN_BATCH]
            cursor.execute(
                f"SELECT {select_list} FROM {table.name} "
                f"WHERE {key} IN ({', '.join([mark] * len(batch))})",
                batch,
            )
            for row in cursor.fetchall():
                record = dict(zip(labels, row, strict=True))
                for i, process in convert:
                    value = row[i]
                    if value is not None:
                        record[labels[i]] = process(value)
                found[record[key]] = record
    finally:
        cursor.close()
    return found


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

    ``INSERT ... ON CONFLICT (key) DO NOTHING`` (the same SQL on SQLite and PostgreSQL) sent
    to the driver directly, each value converted by its column's own SQLAlchemy type (the
    processors fetched once per chunk): no ORM objects, no primary keys fetched back, and none
    of the per-row parameter bookkeeping of a compiled Core statement, which cost more than
    SQLite's own work. ``ON CONFLICT`` keeps a concurrent import of the same file harmless.
    """

    def __init__(self, model: Any, key: str) -> None:
        self.table: Table = model.__table__
        self.key = key
        self.rows: dict[str, dict[str, Any]] = {}
        self.now = utcnow()
        self.inserted = 0  # counted here, added to the chunk's counts once by flush

    def add(self, key: str, counts: ChunkCounts, **values: Any) -> dict[str, Any]:
        self.rows[key] = row = {self.key: key, **values}
        self.inserted += 1
        return row

    def flush(self, uow: UnitOfWork, counts: ChunkCounts) -> None:
        counts.inserted += self.inserted
        if not self.rows:
            return
        conn = uow.session.connection()
        dialect = conn.dialect
        names = list(next(iter(self.rows.values())))
        processors = [_processor(self.table.c[n], dialect) for n in names]
        convert = [(n, p) for n, p in zip(names, processors, strict=True) if p is not None]
        stamp_process = _processor(self.table.c.created_at, dialect)
        stamp = stamp_process(self.now) if stamp_process else self.now
        params = []
        for row in self.rows.values():
            for name, process in convert:
                value = row[name]
                if value is not None:
                    row[name] = process(value)
            params.append((*row.values(), stamp, stamp))
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"INSERT INTO {self.table.name} ({', '.join(names)}, created_at, updated_at) "
            f"VALUES ({', '.join([mark] * (len(names) + 2))}) "
            f"ON CONFLICT ({self.key}) DO NOTHING"
        )
        self.rows = {}
        conn.exec_driver_sql(sql, params)


def _processor(column: Any, dialect: Any) -> Any:
    """The function that turns a Python value into what ``dialect``'s driver takes, or None."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def pending(new: New, known: Known, key: str) -> dict[str, Any] | None:
    """The record under ``key`` as this chunk last left it: new in it, or in the ledger."""
    return new.rows.get(key) or known.get(key)
