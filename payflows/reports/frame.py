"""The ledger as pandas frames: only the columns a report needs, read in chunks.

A month of a busy merchant is millions of attempts, so the loader never builds ORM objects (a
row of Python objects costs kilobytes; a row of typed columns costs tens of bytes). It runs plain
SQL with the joins done by the database (an attempt's owning purchase gives a refund its
scenario and brand, a capture its fee), only for the attempts that have an owner (the period's
other attempts, most of them, come from a plain select of the same columns), reads the result in
chunks of 200,000 rows, and turns
each chunk into compact columns as it goes: categoricals for the few distinct words (kind,
state, status, currency, brand, decline code), int64 cents, UTC datetimes. Purchase ids are not
loaded for the activity frame at all: nothing in the summaries needs them.

No card data is read: not even the masked PAN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from sqlalchemy.engine import Connection, Engine

from payflows.reports.period import Period
from payflows.reports.queries import (
    _CHARGEBACK_COLUMNS,
    _CHARGEBACKS_SQL,
    _FAILURE_COLUMNS,
    _HOLD_COLUMNS,
    _HOLDS_SQL,
    _OWNED_SQL,
    _OWNERLESS,
    _PAID_LATER_SQL,
    _REFUND_COLUMNS,
    _REFUNDS_SQL,
    _SETTLEMENT_COLUMNS,
    _SUBSCRIPTION_COLUMNS,
    _SUBSCRIPTION_FAILURES_SQL,
    _SUBSCRIPTIONS_SQL,
    _UNOWNED_SQL,
    ACTIVITY_COLUMNS,
    PAID_LATER_WINDOW,
)

__all__ = [
    "ACTIVITY_COLUMNS",
    "CHUNK_ROWS",
    "LedgerFrames",
    "activity_frame",
    "empty_activity",
    "empty_frame",
    "load_activity",
    "load_chargebacks",
    "load_frames",
    "load_holds",
    "load_refunds",
    "load_settlement",
    "load_subscriptions",
    "paid_in_period",
    "settlement_frame",
    "sql_bound",
]

CHUNK_ROWS = 200_000


@dataclass
class LedgerFrames:
    """What one report reads from the ledger."""

    #: Every attempt made in the period (one row each), with its owning purchase's facts.
    activity: pd.DataFrame
    #: Every purchase paid in the period (by the day it was paid), with fee, net, settlement.
    settlement: pd.DataFrame
    #: Refunds recorded in the period.
    refunds: pd.DataFrame
    #: Holds still open now (not period-bound: a hold is open until decided or lapsed).
    holds: pd.DataFrame
    #: Every subscription now (its dunning state is a snapshot, not a period figure).
    subscriptions: pd.DataFrame
    #: Purchases charged back in the period (by when the gateway reported it).
    chargebacks: pd.DataFrame = field(default_factory=lambda: empty_frame(_CHARGEBACK_COLUMNS))


def sql_bound(conn: Connection, value: datetime) -> Any:
    """A UTC bound as the database compares it: naive UTC text on SQLite, timestamptz else."""
    value = value.astimezone(UTC)
    if conn.dialect.name == "sqlite":
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _column(values: Any, dtype: str) -> Any:
    """One column from the driver's Python values, typed without a detour through floats."""
    arr = values if isinstance(values, np.ndarray) else np.array(values, dtype=object)
    if dtype.startswith("datetime64"):
        return pd.to_datetime(arr, utc=True, format="ISO8601").as_unit("us")
    if dtype == "category":
        codes, uniques = pd.factorize(arr)
        return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))
    if dtype == "int64":
        return np.where(arr == None, 0, arr).astype(np.int64)  # noqa: E711 (elementwise)
    if dtype == "Int64":
        # Exact for any 64-bit amount: ints and None straight into a masked array.
        mask = arr == None  # noqa: E711 (elementwise)
        return pd.arrays.IntegerArray(np.where(mask, 0, arr).astype(np.int64), mask)
    if dtype == "bool":
        return np.where(arr == None, False, arr).astype(bool)  # noqa: E711 (elementwise)
    return arr


def _typed_columns(columns: dict[str, str], data: dict[str, Any], n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {name: _column(data[name], dtype) for name, dtype in columns.items()},
        index=pd.RangeIndex(n),
    )


def _typed(chunk: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    def plain(name: str) -> list[Any]:
        col = chunk[name].astype(object)
        return [None if pd.isna(v) else v for v in col.tolist()]

    return _typed_columns(columns, {name: plain(name) for name in columns}, len(chunk))


def empty_frame(columns: dict[str, str]) -> pd.DataFrame:
    """A frame with the columns and dtypes of a loader's result and no rows."""
    data: dict[str, Any] = {}
    for name, dtype in columns.items():
        if dtype == "str":
            data[name] = pd.Series([], dtype=object)
        elif dtype == "category":
            data[name] = pd.Series([], dtype="category")
        else:
            data[name] = pd.Series([], dtype=dtype)
    return pd.DataFrame(data)


def empty_activity() -> pd.DataFrame:
    return empty_frame(ACTIVITY_COLUMNS)


def activity_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """An activity frame from plain records (missing keys are NULL), typed as the loader does.

    For callers that build frames by hand (tests, benchmarks): the summaries then see exactly
    what they would see from the database.
    """
    if not records:
        return empty_activity()
    raw = pd.DataFrame.from_records(records)
    for name in ACTIVITY_COLUMNS:
        if name not in raw:
            raw[name] = None
    return _typed(raw, ACTIVITY_COLUMNS)


def settlement_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """A settlement frame from plain records, typed as :func:`load_settlement` returns it."""
    if not records:
        return empty_frame(_SETTLEMENT_COLUMNS)
    raw = pd.DataFrame.from_records(records)
    for name in _SETTLEMENT_COLUMNS:
        if name not in raw:
            raw[name] = None
    return _typed(raw, _SETTLEMENT_COLUMNS)


def _concat(chunks: Iterable[pd.DataFrame], columns: dict[str, str]) -> pd.DataFrame:
    parts = list(chunks)
    if not parts:
        return empty_frame(columns)
    if len(parts) == 1:
        return parts[0]
    data: dict[str, Any] = {}
    for name, dtype in columns.items():
        if dtype == "category":
            union = union_categoricals([p[name] for p in parts])
            # pandas infers ``str`` categories when a part has none (an all-NULL column):
            # keep them ``object`` as :func:`_column` makes them, so later unions agree.
            categories = pd.Index(union.categories, dtype=object)
            data[name] = pd.Series(pd.Categorical.from_codes(union.codes, categories=categories))
        else:
            data[name] = pd.concat([p[name] for p in parts], ignore_index=True)
    return pd.DataFrame(data)


def _read(
    conn: Connection,
    sql: str,
    columns: dict[str, str],
    params: dict[str, Any] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> pd.DataFrame:
    """Run ``sql`` on the driver's own cursor and build typed columns chunk by chunk.

    The DBAPI cursor rather than SQLAlchemy's result or ``pandas.read_sql``: a row object per
    row costs more than the query itself at a million rows.
    """
    raw = conn.connection.dbapi_connection
    assert raw is not None
    if conn.dialect.name != "sqlite":  # psycopg: pyformat parameters
        sql = re.sub(r":(\w+)", r"%(\1)s", sql)
    cursor = raw.cursor()
    try:
        cursor.execute(sql, params or {})
        names = [d[0] for d in cursor.description]
        wanted = [names.index(name) for name in columns]

        def chunks() -> Iterator[pd.DataFrame]:
            while rows := cursor.fetchmany(chunk_rows):
                table = np.empty((len(rows), len(names)), dtype=object)
                table[:] = rows
                data = {name: table[:, i] for name, i in zip(columns, wanted, strict=True)}
                yield _typed_columns(columns, data, len(rows))

        return _concat(chunks(), columns)
    finally:
        cursor.close()


def _period(conn: Connection, period: Period) -> dict[str, Any]:
    return {"start": sql_bound(conn, period.start_utc), "end": sql_bound(conn, period.end_utc)}


def _missing(dtype: str, n: int) -> Any:
    """A column of ``n`` NULLs typed as :func:`_column` types a column of ``None``."""
    if dtype == "category":
        return pd.Categorical.from_codes(np.full(n, -1), categories=pd.Index([], dtype=object))
    if dtype == "Int64":
        return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    if dtype == "bool":
        return np.zeros(n, dtype=bool)
    raise ValueError(f"no missing column of {dtype}")


def _read_activity(
    conn: Connection, params: dict[str, Any], chunk_rows: int = CHUNK_ROWS
) -> pd.DataFrame:
    """The period's attempts in two reads: those with an owner joined to it, the rest plain.

    One query joining every attempt to its (usually absent) owner costs SQLite twice the work
    of a plain select; splitting on ``related_purchase_id`` keeps the join to the rows it
    serves. Row order is not meaningful (every summary groups).
    """
    unowned_columns = {k: v for k, v in ACTIVITY_COLUMNS.items() if k not in _OWNERLESS}
    unowned = _read(conn, _UNOWNED_SQL, unowned_columns, params, chunk_rows)
    n = len(unowned)
    for name in _OWNERLESS:
        unowned[name] = _missing(ACTIVITY_COLUMNS[name], n)
    owned = _read(conn, _OWNED_SQL, ACTIVITY_COLUMNS, params, chunk_rows)
    parts = [p[list(ACTIVITY_COLUMNS)] for p in (unowned, owned) if not p.empty]
    return _concat(parts, ACTIVITY_COLUMNS)


def load_activity(engine: Engine, period: Period, *, chunk_rows: int = CHUNK_ROWS) -> pd.DataFrame:
    """Every attempt created in the period, with its owner's kind, brand, fee and paid amount."""
    with engine.connect() as conn:
        return _read_activity(conn, _period(conn, period), chunk_rows)


def paid_in_period(activity: pd.DataFrame, period: Period) -> pd.DataFrame:
    """The purchases among ``activity`` that were paid in the period, as a settlement frame.

    A purchase whose payment time the gateway never reported counts as paid when it was made.
    """
    paid = activity["paid_cents"].fillna(0) > 0
    start, end = pd.Timestamp(period.start_utc), pd.Timestamp(period.end_utc)
    chosen = activity.loc[paid, list(_SETTLEMENT_COLUMNS)]
    when = chosen["paid_at"].fillna(activity.loc[paid, "created_at"])
    chosen = chosen.assign(paid_at=when)
    return chosen[(when >= start) & (when < end)].reset_index(drop=True)


def load_settlement(
    engine: Engine, period: Period, activity: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Succeeded purchases paid in the period, with what the gateway reported of them.

    Those made in the period come from ``activity`` when it is given (no second read); those
    made before it and paid in it (a hold captured later) from one bounded query.
    """
    with engine.connect() as conn:
        params = _period(conn, period)
        params["before"] = sql_bound(conn, period.start_utc - PAID_LATER_WINDOW)
        earlier = _read(conn, _PAID_LATER_SQL, ACTIVITY_COLUMNS, params)
        if activity is None:
            activity = _read_activity(conn, _period(conn, period))
    parts = [paid_in_period(activity, period), paid_in_period(earlier, period)]
    return _concat([p for p in parts if not p.empty], _SETTLEMENT_COLUMNS)


def load_refunds(engine: Engine, period: Period) -> pd.DataFrame:
    with engine.connect() as conn:
        return _read(conn, _REFUNDS_SQL, _REFUND_COLUMNS, _period(conn, period))


def load_holds(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return _read(conn, _HOLDS_SQL, _HOLD_COLUMNS)


def load_subscriptions(engine: Engine) -> pd.DataFrame:
    """Every subscription, with ``failed_since_paid`` counted from its attempts."""
    with engine.connect() as conn:
        subs = _read(conn, _SUBSCRIPTIONS_SQL, _SUBSCRIPTION_COLUMNS)
        failures = _read(conn, _SUBSCRIPTION_FAILURES_SQL, _FAILURE_COLUMNS)
    counts = failures.set_index("subscription_id")["failed_since_paid"]
    failed = subs["id"].map(counts).fillna(0).astype("int64")
    return subs.assign(failed_since_paid=failed.to_numpy())


def load_chargebacks(engine: Engine, period: Period) -> pd.DataFrame:
    with engine.connect() as conn:
        return _read(conn, _CHARGEBACKS_SQL, _CHARGEBACK_COLUMNS, _period(conn, period))


def load_frames(engine: Engine, period: Period) -> LedgerFrames:
    """Everything a report reads: the period's attempts once, and four small queries."""
    activity = load_activity(engine, period)
    return LedgerFrames(
        activity=activity,
        settlement=load_settlement(engine, period, activity),
        refunds=load_refunds(engine, period),
        holds=load_holds(engine),
        subscriptions=load_subscriptions(engine),
        chargebacks=load_chargebacks(engine, period),
    )
