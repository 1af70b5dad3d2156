"""The report's figures, as pure functions of the ledger frames (no database, no Prefect).

Everything is summed in integer cents (int64) and formatted only at the output. The activity
frame is first collapsed to one row per (day, currency, brand, scenario, kind, state, full
refund) with counts and sums: a million attempts become a few hundred rows, and every figure is
then read off that small frame. Days are the merchant's calendar days.

Scenarios: ``cit``, ``mit``, ``preauth_capture`` (the pre-auth, its capture and its void) and
``zero_auth``; a cancel, refund or refund cancel counts under the scenario of the purchase it
acts on (``other`` when the ledger does not know that purchase).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from payflows.domain.attempts import UNRESOLVED
from payflows.reports.period import Period

__all__ = [
    "DAILY_COUNTS",
    "INITIATING",
    "KEYS",
    "SCENARIOS",
    "Summaries",
    "approval_rate",
    "daily_summary",
    "declines_summary",
    "holds_summary",
    "refunds_summary",
    "scenario_of",
    "settlement_lag",
    "settlement_summary",
    "subscriptions_summary",
    "summarise",
    "totals_summary",
]

#: The scenario of each attempt kind that names one itself.
SCENARIOS: dict[str, str] = {
    "cit": "cit",
    "mit": "mit",
    "preauth": "preauth_capture",
    "capture": "preauth_capture",
    "void": "preauth_capture",
    "zero_auth": "zero_auth",
}
#: Kinds acting on another purchase, which take that purchase's scenario.
_ACTING_ON = ("cancel", "refund", "refund_cancel")
#: Kinds that start a payment: what approval rates are made of.
INITIATING = ("cit", "mit", "preauth", "zero_auth")
_UNRESOLVED = tuple(sorted(s.value for s in UNRESOLVED))
KEYS = ["day", "currency", "brand", "scenario"]

#: (metric, kinds, state) whose counts and cents the daily summary carries.
DAILY_COUNTS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("authorised", INITIATING, ("succeeded",)),
    ("declined", INITIATING, ("declined",)),
    ("unresolved", INITIATING, _UNRESOLVED),
    ("captured", ("capture",), ("succeeded",)),
    ("paid", ("cit", "mit", "capture"), ("succeeded",)),
    ("voided", ("void",), ("succeeded",)),
    ("cancelled", ("cancel",), ("succeeded",)),
    ("refunded", ("refund",), ("succeeded",)),
    ("refunds_cancelled", ("refund_cancel",), ("succeeded",)),
]


_SCENARIO_NAMES = sorted({*SCENARIOS.values(), "other"})


def _remap(series: pd.Series, mapping: dict[str, str], default: str) -> pd.Categorical:
    """A categorical's values mapped through ``mapping`` by category, not by row (fast).

    The result's categories are always the scenario names, so two results can be combined
    code by code.
    """
    cat = series.astype("category")
    categories = list(cat.cat.categories)
    index = {t: i for i, t in enumerate(_SCENARIO_NAMES)}
    table = np.array(
        [index[mapping.get(str(c), default)] for c in categories] + [index[default]],
        dtype=np.int8,
    )
    codes = cat.cat.codes.to_numpy()
    return pd.Categorical.from_codes(table[codes], categories=_SCENARIO_NAMES)


def scenario_of(kind: pd.Series, owner_kind: pd.Series) -> pd.Categorical:
    """The scenario of each attempt: its own kind's, or its purchase's for cancels/refunds."""
    own = _remap(kind, SCENARIOS, "other")
    owner = _remap(owner_kind, SCENARIOS, "other")
    acting = np.asarray(kind.isin(_ACTING_ON))
    codes = np.where(acting, owner.codes, own.codes)
    return pd.Categorical.from_codes(codes, categories=_SCENARIO_NAMES)


def _local_day(ts: pd.Series, tz: str) -> pd.Series:
    return ts.dt.tz_convert(tz).dt.normalize().dt.tz_localize(None)


def _brand(series: pd.Series) -> pd.Series:
    cat = series.astype("category")
    if "unknown" not in cat.cat.categories:
        cat = cat.cat.add_categories(["unknown"])
    return cat.fillna("unknown")


def approval_rate(approved: pd.Series, declined: pd.Series) -> pd.Series:
    """approved / (approved + declined); empty (NaN) where nothing was decided."""
    decided = approved + declined
    rate = approved.astype("float64") / decided.where(decided > 0)
    return rate.round(4)


def _collapse(activity: pd.DataFrame, tz: str) -> pd.DataFrame:
    """One row per (day, currency, brand, scenario, kind, state, full) with n, cents, fee, net."""
    a = activity
    full = (a["kind"] == "refund") & (
        a["amount_cents"] >= a["owner_paid_cents"].fillna(np.iinfo("int64").max)
    )
    work = pd.DataFrame(
        {
            "day": _local_day(a["created_at"], tz),
            "currency": a["currency"],
            "brand": _brand(a["brand"]),
            "scenario": scenario_of(a["kind"], a["owner_kind"]),
            "kind": a["kind"],
            "state": a["state"],
            "full": full.to_numpy(dtype=bool),
            "cents": a["amount_cents"],
            "fee": a["fee_cents"].fillna(0).astype("int64"),
            "net": a["net_cents"].fillna(0).astype("int64"),
            "fee_n": a["fee_cents"].notna().astype("int64"),
        }
    )
    grouped = work.groupby(
        [*KEYS, "kind", "state", "full"], observed=True, sort=False, dropna=False
    ).agg(
        n=("cents", "size"),
        cents=("cents", "sum"),
        fee=("fee", "sum"),
        net=("net", "sum"),
        fee_n=("fee_n", "sum"),
    )
    out = grouped.reset_index()
    for name in ("kind", "state", "scenario", "currency", "brand"):
        out[name] = out[name].astype(str)
    return out


def _empty_daily() -> pd.DataFrame:
    columns: list[str] = list(KEYS)
    for metric, _kinds, _states in DAILY_COUNTS:
        columns += [f"{metric}_count", f"{metric}_cents"]
    columns += [
        "refunds_full_count",
        "refunds_partial_count",
        "fee_cents",
        "net_cents",
        "fees_reported_count",
        "approval_rate",
    ]
    return pd.DataFrame({c: pd.Series([], dtype=object if c in KEYS else "int64") for c in columns})


def daily_summary(activity: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Counts and cents per day, currency, card brand and scenario (one row each)."""
    if activity.empty:
        return _finish_daily(_empty_daily())
    g = _collapse(activity, tz)
    base = g[KEYS].drop_duplicates().set_index(KEYS)
    out = pd.DataFrame(index=base.index)
    for metric, kinds, states in DAILY_COUNTS:
        part = g[g["kind"].isin(kinds) & g["state"].isin(states)].groupby(KEYS)[["n", "cents"]]
        sums = part.sum().rename(columns={"n": f"{metric}_count", "cents": f"{metric}_cents"})
        out = out.join(sums)
    refunds = g[(g["kind"] == "refund") & (g["state"] == "succeeded")]
    for label, is_full in (("full", True), ("partial", False)):
        n = refunds[refunds["full"] == is_full].groupby(KEYS)["n"].sum()
        out = out.join(n.rename(f"refunds_{label}_count"))
    paid = g[g["kind"].isin(["cit", "mit", "capture"]) & (g["state"] == "succeeded")]
    fees = paid.groupby(KEYS)[["fee", "net", "fee_n"]].sum()
    fees.columns = ["fee_cents", "net_cents", "fees_reported_count"]
    out = out.join(fees)
    out = out.fillna(0).astype("int64").reset_index()
    return _finish_daily(out)


def _finish_daily(out: pd.DataFrame) -> pd.DataFrame:
    out["approval_rate"] = approval_rate(out["authorised_count"], out["declined_count"])
    if not out.empty:
        out["day"] = pd.to_datetime(out["day"]).dt.strftime("%Y-%m-%d")
    out = out.sort_values(KEYS, kind="stable").reset_index(drop=True)
    return out[list(_empty_daily().columns)]


def totals_summary(daily: pd.DataFrame) -> pd.DataFrame:
    """The daily figures summed per currency over the whole period."""
    numeric = [c for c in daily.columns if c not in KEYS and c != "approval_rate"]
    if daily.empty:
        out = pd.DataFrame({c: pd.Series([], dtype="int64") for c in numeric})
        out.insert(0, "currency", pd.Series([], dtype=object))
    else:
        out = daily.groupby("currency", sort=True)[numeric].sum().reset_index()
    out["approval_rate"] = approval_rate(out["authorised_count"], out["declined_count"])
    return out


def declines_summary(activity: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Declined payment attempts per day, currency, brand, scenario and decline code."""
    columns = [*KEYS, "decline_code", "declined_count", "declined_cents"]
    if activity.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    a = activity[activity["kind"].isin(INITIATING) & (activity["state"] == "declined")]
    if a.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    code = a["decline_code"].astype(object).where(a["decline_code"].notna(), "unknown")
    work = pd.DataFrame(
        {
            "day": _local_day(a["created_at"], tz).dt.strftime("%Y-%m-%d"),
            "currency": a["currency"].astype(str),
            "brand": _brand(a["brand"]).astype(str),
            "scenario": np.asarray(scenario_of(a["kind"], a["owner_kind"]), dtype=object),
            "decline_code": code.astype(str),
            "cents": a["amount_cents"],
        }
    )
    out = (
        work.groupby([*KEYS, "decline_code"], sort=True)["cents"]
        .agg(declined_count="size", declined_cents="sum")
        .reset_index()
    )
    return out[columns]


def _settled_mask(s: pd.DataFrame) -> pd.Series:
    return s["settled_at"].notna() | (s["purchase_status"].astype(object) == "settled")


def settlement_summary(settlement: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Paid money per paid day: settled, awaiting settlement, or closed before it settled."""
    columns = [
        *KEYS,
        "paid_count",
        "paid_cents",
        "fee_cents",
        "net_cents",
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
    if settlement.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    s = settlement
    settled = _settled_mask(s)
    status = s["purchase_status"].astype(object)
    awaiting = ~settled & status.isin(["paid", "cleared", "pending_refund"])
    closed = ~settled & ~awaiting
    charged_back = status == "chargeback"
    paid = s["paid_cents"].fillna(0).astype("int64")
    lag = (s["settled_at"] - s["paid_at"]).dt.total_seconds() / 3600.0
    work = pd.DataFrame(
        {
            "day": _local_day(s["paid_at"], tz).dt.strftime("%Y-%m-%d"),
            "currency": s["currency"].astype(str),
            "brand": _brand(s["brand"]).astype(str),
            "scenario": np.asarray(_remap(s["kind"], SCENARIOS, "other"), dtype=object),
            "paid_count": 1,
            "paid_cents": paid,
            "fee_cents": s["fee_cents"].fillna(0).astype("int64"),
            "net_cents": s["net_cents"].fillna(0).astype("int64"),
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
    grouped = work.groupby(KEYS, sort=True)
    out = grouped[[c for c in columns if c not in KEYS and c != "mean_lag_hours"]].sum()
    out["mean_lag_hours"] = grouped["lag"].mean().round(1)
    return out.reset_index()[columns]


def settlement_lag(settlement: pd.DataFrame) -> pd.DataFrame:
    """How long settled money took from payment to settlement, in whole days."""
    columns = ["lag_days", "currency", "settled_count", "settled_cents"]
    if settlement.empty:
        return pd.DataFrame({c: pd.Series([], dtype="int64") for c in columns})
    s = settlement[settlement["settled_at"].notna()]
    if s.empty:
        return pd.DataFrame({c: pd.Series([], dtype="int64") for c in columns})
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


def refunds_summary(refunds: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Refunds recorded in the period per day, currency and status (pending, settled...)."""
    columns = ["day", "currency", "status", "refund_count", "refund_cents"]
    if refunds.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    work = pd.DataFrame(
        {
            "day": _local_day(refunds["created_at"], tz).dt.strftime("%Y-%m-%d"),
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
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
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


def subscriptions_summary(subscriptions: pd.DataFrame) -> pd.DataFrame:
    """Subscriptions per status and dunning state: current, retrying, or failing (no retry)."""
    columns = [
        "status",
        "dunning",
        "currency",
        "subscription_count",
        "amount_cents",
        "failed_attempts",
    ]
    if subscriptions.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    s = subscriptions
    failing = s["failed_attempts"] > 0
    dunning = np.where(
        failing & s["retry_at"].notna(), "retrying", np.where(failing, "failing", "current")
    )
    work = pd.DataFrame(
        {
            "status": s["status"].astype(str),
            "dunning": dunning,
            "currency": s["currency"].astype(str),
            "cents": s["amount_cents"],
            "failed": s["failed_attempts"],
        }
    )
    out = (
        work.groupby(["status", "dunning", "currency"], sort=True)
        .agg(
            subscription_count=("cents", "size"),
            amount_cents=("cents", "sum"),
            failed_attempts=("failed", "sum"),
        )
        .reset_index()
    )
    return out[columns]


@dataclass
class Summaries:
    """Every table of one report, ready for CSV (cents as integers, days as ISO dates)."""

    period: Period
    as_of: datetime
    totals: pd.DataFrame
    daily: pd.DataFrame
    declines: pd.DataFrame
    settlement: pd.DataFrame
    settlement_lag: pd.DataFrame
    refunds: pd.DataFrame
    holds: pd.DataFrame
    subscriptions: pd.DataFrame
    reconciliation: pd.DataFrame = field(default_factory=pd.DataFrame)
    extra: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name -> table, in the order the report shows them (each is one CSV)."""
        return {
            "totals": self.totals,
            "daily": self.daily,
            "declines": self.declines,
            "settlement": self.settlement,
            "settlement_lag": self.settlement_lag,
            "refunds": self.refunds,
            "holds": self.holds,
            "subscriptions": self.subscriptions,
            "reconciliation": self.reconciliation,
        }


def summarise(frames: Any, period: Period, as_of: datetime) -> Summaries:
    """Every summary of :class:`~payflows.reports.frame.LedgerFrames` for ``period``."""
    tz = period.timezone
    daily = daily_summary(frames.activity, tz)
    return Summaries(
        period=period,
        as_of=as_of,
        totals=totals_summary(daily),
        daily=daily,
        declines=declines_summary(frames.activity, tz),
        settlement=settlement_summary(frames.settlement, tz),
        settlement_lag=settlement_lag(frames.settlement),
        refunds=refunds_summary(frames.refunds, tz),
        holds=holds_summary(frames.holds, as_of, tz),
        subscriptions=subscriptions_summary(frames.subscriptions),
    )
