"""Where the money and the customers stand: settlement, chargebacks, refunds, holds, dunning.

Pure functions of the ledger frames like :mod:`~payflows.reports.summaries`, in integer cents.
Settlement is counted by the day money was paid, chargebacks by the day the gateway reported
them; holds and subscriptions are a snapshot at the report's ``as_of``, not period figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from payflows.reports.columns import KEYS, SCENARIOS, brand_of, local_day, remap

__all__ = [
    "SETTLEMENT_COLUMNS",
    "SUBSCRIPTION_COLUMNS",
    "chargebacks_summary",
    "holds_summary",
    "refunds_summary",
    "settlement_lag",
    "settlement_summary",
    "subscriptions_summary",
]

SETTLEMENT_COLUMNS = [
    *KEYS,
    "paid_count",
    "paid_cents",
    "fee_cents",
    "gateway_net_cents",
    "fees_reported_count",
    "settled_count",
    "settled_cents",
    "awaiting_count",
    "awaiting_cents",
    "not_settling_count",
    "not_settling_cents",
    "charged_back_count",
    "charged_back_cents",
    "mean_lag_hours",
]


def _empty(columns: list[str], dtype: str = "object") -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=dtype) for c in columns})


def _settled_mask(s: pd.DataFrame) -> pd.Series:
    return s["settled_at"].notna() | (s["purchase_status"] == "settled")


def _day_keys(
    day: pd.Series, currency: pd.Series, brand: pd.Series, kind: pd.Series
) -> dict[str, Any]:
    """The KEYS of every row as compact columns (a naive day, categoricals): cheap to group."""
    return {
        "day": day,
        "currency": currency.astype("category"),
        "brand": brand_of(brand),
        "scenario": remap(kind, SCENARIOS, "other"),
    }


def _keys_as_text(out: pd.DataFrame) -> pd.DataFrame:
    """A grouped result's KEYS as the CSV shows them (ISO days, words), sorted by them."""
    out["day"] = pd.to_datetime(out["day"]).dt.strftime("%Y-%m-%d")
    for name in ("currency", "brand", "scenario"):
        out[name] = out[name].astype(str)
    return out.sort_values(KEYS, kind="stable").reset_index(drop=True)


def settlement_summary(settlement: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Paid money per paid day: settled, awaiting settlement, or closed before it settled.

    ``gateway_net_cents`` is what the gateway reports it pays out for these payments (paid less
    its fee); refunds and chargebacks come off later, in the daily ``net_cents``.
    """
    if settlement.empty:
        return _empty(SETTLEMENT_COLUMNS)
    s = settlement
    settled = _settled_mask(s)
    status = s["purchase_status"]
    awaiting = ~settled & status.isin(["paid", "cleared", "pending_refund"])
    closed = ~settled & ~awaiting
    charged_back = status == "chargeback"
    paid = s["paid_cents"].fillna(0).astype("int64")
    lag = (s["settled_at"] - s["paid_at"]).dt.total_seconds() / 3600.0
    work = pd.DataFrame(
        {
            **_day_keys(local_day(s["paid_at"], tz), s["currency"], s["brand"], s["kind"]),
            "paid_count": 1,
            "paid_cents": paid,
            "fee_cents": s["fee_cents"].fillna(0).astype("int64"),
            "gateway_net_cents": s["net_cents"].fillna(0).astype("int64"),
            "fees_reported_count": s["fee_cents"].notna().astype("int64"),
            "settled_count": settled.astype("int64"),
            "settled_cents": paid.where(settled, 0),
            "awaiting_count": awaiting.astype("int64"),
            "awaiting_cents": paid.where(awaiting, 0),
            "not_settling_count": closed.astype("int64"),
            "not_settling_cents": paid.where(closed, 0),
            "charged_back_count": charged_back.astype("int64"),
            "charged_back_cents": paid.where(charged_back, 0),
            "lag": lag,
        }
    )
    grouped = work.groupby(KEYS, observed=True, sort=False)
    sums = [c for c in SETTLEMENT_COLUMNS if c not in KEYS and c != "mean_lag_hours"]
    out = grouped[sums].sum()
    out["mean_lag_hours"] = grouped["lag"].mean().round(1)
    return _keys_as_text(out.reset_index())[SETTLEMENT_COLUMNS]


def settlement_lag(settlement: pd.DataFrame) -> pd.DataFrame:
    """How long settled money took from payment to settlement, in whole days."""
    columns = ["lag_days", "currency", "settled_count", "settled_cents"]
    if settlement.empty:
        return _empty(columns, "int64")
    s = settlement[settlement["settled_at"].notna()]
    if s.empty:
        return _empty(columns, "int64")
    days = ((s["settled_at"] - s["paid_at"]).dt.total_seconds() // 86_400).astype("int64")
    work = pd.DataFrame(
        {
            "lag_days": days.clip(lower=0),
            "currency": s["currency"].astype(str),
            "cents": s["paid_cents"].fillna(0).astype("int64"),
        }
    )
    out = (
        work.groupby(["lag_days", "currency"], sort=True)["cents"]
        .agg(settled_count="size", settled_cents="sum")
        .reset_index()
    )
    return out[columns]


def chargebacks_summary(chargebacks: pd.DataFrame | None, tz: str) -> pd.DataFrame:
    """Purchases the gateway reported charged back, per day of the report, in KEYS rows."""
    columns = [*KEYS, "chargeback_count", "chargeback_cents"]
    if chargebacks is None or chargebacks.empty:
        return _empty(columns)
    c = chargebacks
    work = pd.DataFrame(
        {
            **_day_keys(local_day(c["status_at"], tz), c["currency"], c["brand"], c["kind"]),
            "cents": c["paid_cents"].fillna(0).astype("int64"),
        }
    )
    out = (
        work.groupby(KEYS, observed=True, sort=False)["cents"]
        .agg(chargeback_count="size", chargeback_cents="sum")
        .reset_index()
    )
    for name in ("currency", "brand", "scenario"):
        out[name] = out[name].astype(str)
    return out[columns]


def refunds_summary(refunds: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Refunds recorded in the period per day, currency and status (pending, settled...)."""
    columns = ["day", "currency", "status", "refund_count", "refund_cents"]
    if refunds.empty:
        return _empty(columns)
    work = pd.DataFrame(
        {
            "day": local_day(refunds["created_at"], tz).dt.strftime("%Y-%m-%d"),
            "currency": refunds["currency"],
            "status": refunds["status"],
            "cents": refunds["amount_cents"],
        }
    )
    out = (
        work.groupby(["day", "currency", "status"], sort=True)["cents"]
        .agg(refund_count="size", refund_cents="sum")
        .reset_index()
    )
    return out[columns]


def holds_summary(holds: pd.DataFrame, as_of: datetime, tz: str) -> pd.DataFrame:
    """Every open hold, soonest deadline first, with the hours left to capture it."""
    columns = [
        "purchase_id",
        "currency",
        "brand",
        "authorised_cents",
        "merchant_initiated",
        "authorised_at",
        "expires_at",
        "hours_left",
        "lapsed",
        "decision",
    ]
    if holds.empty:
        return _empty(columns)
    now = pd.Timestamp(as_of).tz_convert("UTC")
    left = (holds["expires_at"] - now).dt.total_seconds() / 3600.0
    fmt = "%Y-%m-%d %H:%M"
    out = pd.DataFrame(
        {
            "purchase_id": holds["purchase_id"],
            "currency": holds["currency"],
            "brand": holds["brand"].fillna("unknown"),
            "authorised_cents": holds["authorised_cents"].astype("int64"),
            "merchant_initiated": holds["is_mit"],
            "authorised_at": holds["authorised_at"].dt.tz_convert(tz).dt.strftime(fmt),
            "expires_at": holds["expires_at"].dt.tz_convert(tz).dt.strftime(fmt),
            "hours_left": left.round(1),
            "lapsed": left <= 0,
            "decision": holds["decision"],
        }
    )
    return out[columns].sort_values("hours_left", kind="stable").reset_index(drop=True)


SUBSCRIPTION_COLUMNS = [
    "status",
    "dunning",
    "reason",
    "currency",
    "subscription_count",
    "amount_cents",
    "failed_attempts",
]


def subscriptions_summary(subscriptions: pd.DataFrame) -> pd.DataFrame:
    """Subscriptions per status, dunning state and the reason they stopped or are failing.

    ``dunning``: ``current`` (no failed attempt), ``retrying`` (failed, a retry is scheduled),
    ``failing`` (failed, no retry scheduled yet), ``stopped`` (suspended or cancelled: billing
    will not charge it again without a person). ``failed_attempts`` is the larger of the
    subscription's dunning counter and the failed charges the ledger holds for it since its
    last successful one (a charge the gateway refused outright does not move the counter).
    ``reason`` is the dunning reason billing recorded, else the last decline code.
    """
    if subscriptions.empty:
        return _empty(SUBSCRIPTION_COLUMNS)
    s = subscriptions
    failed = s["failed_attempts"].fillna(0).astype("int64")
    if "failed_since_paid" in s:
        failed = np.maximum(failed, s["failed_since_paid"].fillna(0).astype("int64"))
    status = s["status"].astype(str)
    stopped = status.isin(["suspended", "cancelled"]).to_numpy()
    failing = np.asarray(failed > 0)
    dunning = np.where(
        stopped,
        "stopped",
        np.where(
            failing & s["retry_at"].notna().to_numpy(),
            "retrying",
            np.where(failing, "failing", "current"),
        ),
    )
    reason = pd.Series("", index=s.index, dtype=object)
    if "last_decline_code" in s:
        code = s["last_decline_code"].astype(object)
        reason = reason.where(code.isna(), code)
    if "dunning_reason" in s:
        why = s["dunning_reason"].astype(object)
        reason = reason.where(why.isna(), why)
    reason = reason.where(dunning != "current", "")
    work = pd.DataFrame(
        {
            "status": status,
            "dunning": dunning,
            "reason": reason.fillna("").astype(str),
            "currency": s["currency"].astype(str),
            "cents": s["amount_cents"],
            "failed": failed,
        }
    )
    out = (
        work.groupby(["status", "dunning", "reason", "currency"], sort=True)
        .agg(
            subscription_count=("cents", "size"),
            amount_cents=("cents", "sum"),
            failed_attempts=("failed", "sum"),
        )
        .reset_index()
    )
    return out[SUBSCRIPTION_COLUMNS]
