"""One statement, many rows, straight to the driver: the grouped writers' ``executemany``.

The billing run and the hold sweep write the same few statements hundreds of times per grouped
commit. Through ``Session.execute`` each call pays for the ORM's execution machinery, a cache lookup
of the compiled form and per-row parameter bookkeeping, which together cost more CPU than SQLite's
own work (bench/README.md). :func:`execute_many` compiles a Core statement once per dialect, keeps
the positions and type processors of its bound parameters, and per call turns each row into the
driver's parameters with those processors before one ``executemany`` on a cursor of the
transaction's own DBAPI connection (a unit of work's, or the grouped store's kept one: same
transaction, same commit). What the driver receives is what SQLAlchemy would have sent: the same SQL
text, every value through its bound parameter's own type processing, literal values in the statement
bound as SQLAlchemy binds them. A value repeated from the row before (the commit's ``now``, an enum
member) is processed once. The cursor is the driver's own, not ``exec_driver_sql``: SQLAlchemy's
execution context and result object per statement cost more than the driver's work for a few rows,
and a grouped commit runs about ten statements. A driver error is raised as SQLAlchemy raises it
(:class:`sqlalchemy.exc.IntegrityError`, ...; parameters hidden), and a lost connection is
invalidated so that the pool does not hand it out again. :func:`rows_in` is the matching read: plain
tuples for ``WHERE key IN (...)``, each value through its column's result processing.

Only for statements built once (module constants): the compiled form is cached by the
statement object, and statements with expanding ``IN`` parameters cannot be ``executemany``'d.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from payflows.ledger.db import Transaction

__all__ = ["execute_many", "rows_in"]

#: Rows per ``IN`` query: far below SQLite's bound-parameter limit.
IN_BATCH = 500
_MAX_CACHED = 256


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    #: Per driver parameter: (row key or None for a value fixed in the statement, the fixed
    #: value already processed, the processor for row values or None).
    slots: tuple[tuple[str | None, Any, Callable[[Any], Any] | None], ...]
    #: The parameter names, for named paramstyles (psycopg); None when positional (sqlite3).
    names: tuple[str, ...] | None


# (id(statement), dialect, row keys) -> (statement, prepared); the statement is kept so that its
# id is not reused while the entry lives.
_CACHE: dict[tuple[int, str, frozenset[str]], tuple[Any, _Prepared]] = {}


def _prepare(stmt: Any, dialect: Dialect, keys: frozenset[str]) -> _Prepared:
    # Compiled as Session.execute compiles it for these rows (an INSERT names their columns).
    compiled = stmt.compile(dialect=dialect, column_keys=sorted(keys))
    if not isinstance(compiled, SQLCompiler) or compiled.literal_execute_params:
        raise TypeError("execute_many needs a plain Core statement")
    if compiled.insert_prefetch or compiled.update_prefetch:
        # SQLAlchemy would compute these columns' Python-side defaults per row: pass them.
        raise TypeError("execute_many: give every column that has a Python-side default")
    binds: dict[str, Any] = {}
    for bind, name in compiled.bind_names.items():
        if bind.expanding:
            raise TypeError(f"execute_many cannot send the expanding parameter {name!r}")
        binds[name] = bind  # as SQLAlchemy does: one type per name, the last one wins
    processors = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for name, bind in binds.items()
    }
    if compiled.positional:
        order: Sequence[str] = compiled.positiontup or ()
        names = None
    else:
        order = list(binds)
        escaped = compiled.escaped_bind_names
        names = tuple(escaped.get(name, name) for name in order)
    slots: list[tuple[str | None, Any, Callable[[Any], Any] | None]] = []
    for name in order:
        process = processors.get(name)
        if name in keys:
            slots.append((name, None, process))
            continue
        bind = binds[name]
        if bind.required:
            raise KeyError(f"execute_many: every row needs {name!r}")
        value = bind.effective_value
        slots.append((None, process(value) if process is not None else value, None))
    return _Prepared(compiled.string, tuple(slots), names)


def execute_many(uow: Transaction, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> int:
    """Run ``stmt`` once per row in one driver ``executemany``; the rows it matched (or -1).

    Every row must carry the same keys (the bound parameters the statement leaves open).
    """
    if not rows:
        return 0
    conn = uow.connection()
    dialect = conn.dialect
    keys = frozenset(rows[0])
    cache_key = (id(stmt), dialect.name, keys)
    cached = _CACHE.get(cache_key)
    if cached is None or cached[0] is not stmt:
        if len(_CACHE) >= _MAX_CACHED:
            _CACHE.clear()
        cached = (stmt, _prepare(stmt, dialect, keys))
        _CACHE[cache_key] = cached
    prepared = cached[1]
    columns = [_column(rows, key, fixed, process) for key, fixed, process in prepared.slots]
    params: list[Any] = list(zip(*columns, strict=True))
    if prepared.names is not None:
        names = prepared.names
        params = [dict(zip(names, values, strict=True)) for values in params]
    return int(_driver(conn, prepared.sql, params))


_UNSET = object()


def _column(
    rows: Sequence[Mapping[str, Any]],
    key: str | None,
    fixed: Any,
    process: Callable[[Any], Any] | None,
) -> list[Any]:
    """One parameter's values for every row; a value repeated from the row before is
    processed once (processors are pure: the same object gives the same parameter)."""
    if key is None:
        return [fixed] * len(rows)
    if process is None:
        return [row[key] for row in rows]
    out: list[Any] = []
    last: Any = _UNSET
    done: Any = None
    for row in rows:
        value = row[key]
        if value is not last:
            last, done = value, process(value)
        out.append(done)
    return out


def _driver(conn: Connection, sql: str, params: Any, *, many: bool = True) -> Any:
    """``executemany`` (the rows matched) or ``execute`` (the rows read) on a cursor of
    ``conn``'s DBAPI connection, inside the transaction ``conn`` began; a driver error is
    raised as SQLAlchemy raises it, and a lost connection is invalidated."""
    dbapi_conn = conn.connection.dbapi_connection
    assert dbapi_conn is not None
    error = conn.dialect.loaded_dbapi.Error
    cursor = dbapi_conn.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
            return cursor.rowcount
        cursor.execute(sql, params)
        return cursor.fetchall()
    except error as exc:
        lost = conn.dialect.is_disconnect(exc, dbapi_conn, cursor)
        wrapped = DBAPIError.instance(
            sql,
            None,
            exc,
            error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=conn.dialect,
            ismulti=many,
        )
        if lost:
            conn.invalidate(wrapped)
        raise wrapped from exc
    finally:
        cursor.close()


def rows_in(
    uow: Transaction, table: Table, columns: Sequence[str], key: str, values: Sequence[Any]
) -> list[list[Any]]:
    """``SELECT columns FROM table WHERE key IN values``: one list per row, values converted.

    Plain SQL with one placeholder per value (the same on SQLite and PostgreSQL), ``IN_BATCH``
    values per query; each column read back through its own type's result processing, so a
    timestamp comes back aware and an enum as the enum, as through the ORM.
    """
    if not values:
        return []
    conn = uow.connection()
    dialect = conn.dialect
    cols: list[Column[Any]] = [table.c[name] for name in columns]
    processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in cols]
    convert = [(i, p) for i, p in enumerate(processors) if p is not None]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    select_list = ", ".join(c.name for c in cols)
    found: list[list[Any]] = []
    for start in range(0, len(values), IN_BATCH):
        batch = list(values[start : start + IN_BATCH])
        sql = (
            f"SELECT {select_list} FROM {table.name} "
            f"WHERE {table.c[key].name} IN ({', '.join([mark] * len(batch))})"
        )
        for raw in _driver(conn, sql, tuple(batch), many=False):
            row = list(raw)
            for i, process in convert:
                if row[i] is not None:
                    row[i] = process(row[i])
            found.append(row)
    return found
