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
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from sqlalchemy.engine import Connection, Engine

from payflows.reports.period import Period

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

_SELECT = """
SELECT a.kind, a.state, a.amount_cents, a.currency,
       COALESCE(a.brand, o.brand,
                (SELECT pm.brand FROM payment_methods pm WHERE pm.id = a.payment_method_id))
       AS brand,
       a.decline_code, a.created_at, o.kind AS owner_kind,
       CASE WHEN a.kind = 'capture' THEN o.fee_cents ELSE a.fee_cents END AS fee_cents,
       CASE WHEN a.kind = 'capture' THEN o.net_cents ELSE a.net_cents END AS net_cents,
       CASE WHEN a.kind = 'refund'
            THEN COALESCE(o.paid_cents,
                          (SELECT NULLIF(h.captured_cents, 0) FROM holds h
                           WHERE h.purchase_id = a.related_purchase_id),
                          o.amount_cents)
       END AS owner_paid_cents,
       a.purchase_status,
       CASE WHEN a.kind IN ('cit', 'mit', 'preauth') AND a.state = 'succeeded'
            THEN COALESCE(a.paid_cents,
                          CASE WHEN a.kind IN ('cit', 'mit') THEN a.amount_cents END,
                          (SELECT NULLIF(hp.captured_cents, 0) FROM holds hp
                           WHERE hp.purchase_id = a.purchase_id))
       END AS paid_cents,
       a.paid_at, a.settled_at,
       CASE WHEN a.kind = 'refund'
            THEN EXISTS (SELECT 1 FROM refunds rc
                         WHERE rc.purchase_id = a.related_purchase_id AND rc.attempt_id = a.id
                           AND rc.status = 'cancelled')
       END AS refund_cancelled
FROM payment_attempts a
LEFT JOIN payment_attempts o ON o.purchase_id = a.related_purchase_id
"""
# (The lookups that only some rows need are scalar subqueries inside COALESCE, evaluated only
# when the values before them are NULL, rather than joins evaluated for every row.)

_IN_PERIOD = "WHERE a.created_at >= :start AND a.created_at < :end"
_ACTIVITY_SQL = _SELECT + _IN_PERIOD

#: The period's attempts that act on another purchase (refunds, captures, voids, cancels: about
#: a sixth of them), with their owner's facts: the join is paid only where it finds something.
_OWNED_SQL = _ACTIVITY_SQL + " AND COALESCE(a.related_purchase_id, '') <> ''"

#: The period's other attempts (payments, pre-auths, zero-auths): the same values as
#: :data:`_SELECT` gives them without an owner, from the attempt alone. The owner's kind, its
#: paid amount and whether a refund was cancelled are NULL for them, so they are not read at all
#: (:data:`_OWNERLESS` columns are filled in as missing).
_UNOWNED_SQL = (
    """
SELECT a.kind, a.state, a.amount_cents, a.currency,
       COALESCE(a.brand,
                (SELECT pm.brand FROM payment_methods pm WHERE pm.id = a.payment_method_id))
       AS brand,
       a.decline_code, a.created_at,
       CASE WHEN a.kind = 'capture' THEN NULL ELSE a.fee_cents END AS fee_cents,
       CASE WHEN a.kind = 'capture' THEN NULL ELSE a.net_cents END AS net_cents,
       a.purchase_status,
       CASE WHEN a.kind IN ('cit', 'mit', 'preauth') AND a.state = 'succeeded'
            THEN COALESCE(a.paid_cents,
                          CASE WHEN a.kind IN ('cit', 'mit') THEN a.amount_cents END,
                          (SELECT NULLIF(hp.captured_cents, 0) FROM holds hp
                           WHERE hp.purchase_id = a.purchase_id))
       END AS paid_cents,
       a.paid_at, a.settled_at
FROM payment_attempts a
"""
    + _IN_PERIOD
    + " AND COALESCE(a.related_purchase_id, '') = ''"
)
# (The owner test is an expression, not ``IS NULL``, so that the planner keeps to the period's
# range of ``created_at`` instead of walking every ownerless attempt of all time by the
# ``related_purchase_id`` index. The two conditions are exact complements.)
#: Columns of :data:`ACTIVITY_COLUMNS` that are always NULL for an attempt without an owner.
_OWNERLESS = ("owner_kind", "owner_paid_cents", "refund_cancelled")

#: Purchases made before the period and paid in it (a hold captured days later): a hold lasts
#: at most 30 days at the networks, so the window before the period is bounded.
_PAID_LATER_SQL = (
    _SELECT
    + """WHERE a.created_at >= :before AND a.created_at < :start
  AND a.kind IN ('cit', 'mit', 'preauth') AND a.state = 'succeeded'
  AND a.paid_at >= :start AND a.paid_at < :end"""
)
#: How far before the period a purchase paid in it may have been made.
PAID_LATER_WINDOW = timedelta(days=35)

_HOLDS_SQL = """
SELECT purchase_id, authorised_cents, currency, brand, is_mit, authorised_at, expires_at,
       decision, decision_cents
FROM holds WHERE status = 'hold' ORDER BY expires_at, id
"""

_SUBSCRIPTIONS_SQL = """
SELECT id, status, currency, amount_cents, failed_attempts, retry_at, last_decline_code,
       dunning_reason
FROM subscriptions
"""

#: Each subscription's declined or refused charges since its last paid one, counted from the
#: attempts (a charge the gateway refused outright does not move the dunning counter). One
#: grouped query over the attempts that belong to a subscription, not a subquery per
#: subscription: the planner then cannot pick a plan that scans the ledger per subscription.
_SUBSCRIPTION_FAILURES_SQL = """
WITH last_paid AS (
    SELECT subscription_id, MAX(created_at) AS at FROM payment_attempts
    WHERE subscription_id IS NOT NULL AND state = 'succeeded'
    GROUP BY subscription_id
)
SELECT f.subscription_id, COUNT(*) AS failed_since_paid
FROM payment_attempts f
LEFT JOIN last_paid l ON l.subscription_id = f.subscription_id
WHERE f.subscription_id IS NOT NULL AND f.state IN ('declined', 'failed')
  AND (l.at IS NULL OR f.created_at > l.at)
GROUP BY f.subscription_id
"""

#: Purchases the gateway reported charged back during the period (by when it reported it).
_CHARGEBACKS_SQL = """
SELECT kind, currency, brand, COALESCE(paid_cents, amount_cents) AS paid_cents, status_at
FROM payment_attempts
WHERE purchase_status = 'chargeback' AND status_at >= :start AND status_at < :end
"""

_REFUNDS_SQL = """
SELECT r.refund_id, r.purchase_id, r.amount_cents, r.currency, r.status, r.created_at,
       r.settled_at, r.cancelled_at, o.kind AS owner_kind, o.brand AS brand
FROM refunds r
LEFT JOIN payment_attempts o ON o.purchase_id = r.purchase_id
WHERE r.created_at >= :start AND r.created_at < :end
ORDER BY r.created_at, r.id
"""

ACTIVITY_COLUMNS: dict[str, str] = {
    "kind": "category",
    "state": "category",
    "amount_cents": "int64",
    "currency": "category",
    "brand": "category",
    "decline_code": "category",
    "created_at": "datetime64[us, UTC]",
    "owner_kind": "category",
    "fee_cents": "Int64",
    "net_cents": "Int64",
    "owner_paid_cents": "Int64",
    "purchase_status": "category",
    "paid_cents": "Int64",
    "paid_at": "datetime64[us, UTC]",
    "settled_at": "datetime64[us, UTC]",
    "refund_cancelled": "bool",
}
_SETTLEMENT_COLUMNS: dict[str, str] = {
    "kind": "category",
    "purchase_status": "category",
    "currency": "category",
    "brand": "category",
    "paid_cents": "Int64",
    "fee_cents": "Int64",
    "net_cents": "Int64",
    "paid_at": "datetime64[us, UTC]",
    "settled_at": "datetime64[us, UTC]",
}
_HOLD_COLUMNS: dict[str, str] = {
    "purchase_id": "str",
    "authorised_cents": "int64",
    "currency": "str",
    "brand": "str",
    "is_mit": "bool",
    "authorised_at": "datetime64[us, UTC]",
    "expires_at": "datetime64[us, UTC]",
    "decision": "str",
    "decision_cents": "Int64",
}
_SUBSCRIPTION_COLUMNS: dict[str, str] = {
    "id": "int64",
    "status": "category",
    "currency": "category",
    "amount_cents": "int64",
    "failed_attempts": "int64",
    "retry_at": "datetime64[us, UTC]",
    "last_decline_code": "category",
    "dunning_reason": "category",
}
_FAILURE_COLUMNS: dict[str, str] = {"subscription_id": "int64", "failed_since_paid": "int64"}
_CHARGEBACK_COLUMNS: dict[str, str] = {
    "kind": "category",
    "currency": "category",
    "brand": "category",
    "paid_cents": "Int64",
    "status_at": "datetime64[us, UTC]",
}
_REFUND_COLUMNS: dict[str, str] = {
    "refund_id": "str",
    "purchase_id": "str",
    "amount_cents": "int64",
    "currency": "str",
    "status": "str",
    "created_at": "datetime64[us, UTC]",
    "settled_at": "datetime64[us, UTC]",
    "cancelled_at": "datetime64[us, UTC]",
    "owner_kind": "str",
    "brand": "str",
}


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
