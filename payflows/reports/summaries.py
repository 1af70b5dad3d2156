"""The report's period figures, as pure functions of the ledger frames (no database, no Prefect).

Everything is summed in integer cents (int64) and formatted only at the output. The activity
frame is first collapsed to one row per (day, currency, brand, scenario, kind, state, full
refund, undone refund) with counts and sums: a million attempts become a few hundred rows, and
every figure is then read off that small frame. Days are the merchant's calendar days.

Scenarios: ``cit``, ``mit``, ``preauth_capture`` (the pre-auth, its capture and its void) and
``zero_auth``; a cancel, refund or refund cancel counts under the scenario of the purchase it
acts on (``other`` when the ledger does not know that purchase).

One set of figures (docs/reports.md says what each means): ``refunded`` is money given back,
so a refund that was later cancelled is not in it (it is in ``refunds_cancelled``);
``net`` is paid less refunded, fees and chargebacks, per day; declines include refusals (the
gateway refusing a charge outright, e.g. an invalid recurring token) with their codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from payflows.domain.attempts import UNRESOLVED
from payflows.reports.columns import (
    INITIATING,
    KEYS,
    SCENARIOS,
    approval_rate,
    brand_of,
    local_day,
    scenario_of,
)
from payflows.reports.period import Period
from payflows.reports.standing import (
    chargebacks_summary,
    holds_summary,
    refunds_summary,
    settlement_lag,
    settlement_summary,
    subscriptions_summary,
)

__all__ = [
    "DAILY_COLUMNS",
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

_UNRESOLVED = tuple(sorted(s.value for s in UNRESOLVED))

#: (metric, kinds, states) whose counts and cents the daily summary carries. A refund later
#: cancelled is relabelled ``refund_undone`` when collapsing, so ``refunded`` leaves it out.
DAILY_COUNTS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("authorised", INITIATING, ("succeeded",)),
    ("declined", INITIATING, ("declined",)),
    ("refused", INITIATING, ("failed",)),
    ("unresolved", INITIATING, _UNRESOLVED),
    ("captured", ("capture",), ("succeeded",)),
    ("paid", ("cit", "mit", "capture"), ("succeeded",)),
    ("voided", ("void",), ("succeeded",)),
    ("cancelled", ("cancel",), ("succeeded",)),
    ("refunded", ("refund",), ("succeeded",)),
    ("refunds_cancelled", ("refund_cancel",), ("succeeded",)),
]

DAILY_COLUMNS: list[str] = [
    *KEYS,
    *[f"{metric}_{part}" for metric, _k, _s in DAILY_COUNTS for part in ("count", "cents")],
    "refunds_full_count",
    "refunds_partial_count",
    "fee_cents",
    "fees_reported_count",
    "chargeback_count",
    "chargeback_cents",
    "net_cents",
    "approval_rate",
]


def _collapse(activity: pd.DataFrame, tz: str) -> pd.DataFrame:
    """One row per (day, currency, brand, scenario, kind, state, full, undone) with sums."""
    a = activity
    is_refund = (a["kind"] == "refund").to_numpy(dtype=bool)
    owner_paid = a["owner_paid_cents"].fillna(np.iinfo("int64").max).to_numpy(dtype=np.int64)
    full = is_refund & (a["amount_cents"].to_numpy() >= owner_paid)
    undone = is_refund & a["refund_cancelled"].to_numpy(dtype=bool)
    fee = a["fee_cents"]
    work = pd.DataFrame(
        {
            "day": local_day(a["created_at"], tz),
            "currency": a["currency"],
            "brand": brand_of(a["brand"]),
            "scenario": scenario_of(a["kind"], a["owner_kind"]),
            "kind": a["kind"],
            "state": a["state"],
            "full": full,
            "undone": undone,
            "cents": a["amount_cents"],
            "fee": fee.fillna(0).astype("int64"),
            "fee_n": fee.notna().astype("int64"),
        }
    )
    grouped = work.groupby(
        [*KEYS, "kind", "state", "full", "undone"], observed=True, sort=False, dropna=False
    ).agg(
        n=("cents", "size"),
        cents=("cents", "sum"),
        fee=("fee", "sum"),
        fee_n=("fee_n", "sum"),
    )
    out = grouped.reset_index()
    for name in ("kind", "state", "scenario", "currency", "brand"):
        out[name] = out[name].astype(str)
    out.loc[out["undone"].to_numpy(dtype=bool), "kind"] = "refund_undone"
    return out


def _empty_daily() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series([], dtype=object if c in KEYS else "int64") for c in DAILY_COLUMNS}
    )


def daily_summary(
    activity: pd.DataFrame, tz: str, chargebacks: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Counts and cents per day, currency, card brand and scenario (one row each)."""
    charged_back = chargebacks_summary(chargebacks, tz) if chargebacks is not None else None
    has_cb = charged_back is not None and not charged_back.empty
    if activity.empty and not has_cb:
        return _finish_daily(_empty_daily())
    g = _collapse(activity, tz) if not activity.empty else None
    index_parts = []
    if g is not None:
        index_parts.append(g[KEYS])
    if has_cb:
        assert charged_back is not None
        index_parts.append(charged_back[KEYS])
    base = pd.concat(index_parts).drop_duplicates().set_index(KEYS)
    out = pd.DataFrame(index=base.index)
    if g is not None:
        for metric, kinds, states in DAILY_COUNTS:
            part = g[g["kind"].isin(kinds) & g["state"].isin(states)].groupby(KEYS)[["n", "cents"]]
            sums = part.sum().rename(columns={"n": f"{metric}_count", "cents": f"{metric}_cents"})
            out = out.join(sums)
        refunds = g[(g["kind"] == "refund") & (g["state"] == "succeeded")]
        for label, is_full in (("full", True), ("partial", False)):
            n = refunds[refunds["full"] == is_full].groupby(KEYS)["n"].sum()
            out = out.join(n.rename(f"refunds_{label}_count"))
        paid = g[g["kind"].isin(["cit", "mit", "capture"]) & (g["state"] == "succeeded")]
        fees = paid.groupby(KEYS)[["fee", "fee_n"]].sum()
        fees.columns = ["fee_cents", "fees_reported_count"]
        out = out.join(fees)
    if has_cb:
        assert charged_back is not None
        out = out.join(charged_back.set_index(KEYS)[["chargeback_count", "chargeback_cents"]])
    for column in DAILY_COLUMNS:
        if column not in KEYS and column not in out.columns and column != "approval_rate":
            out[column] = 0
    out = out.fillna(0).astype("int64").reset_index()
    return _finish_daily(out)


def _finish_daily(out: pd.DataFrame) -> pd.DataFrame:
    out["net_cents"] = (
        out["paid_cents"] - out["refunded_cents"] - out["fee_cents"] - out["chargeback_cents"]
    ).astype("int64")
    out["approval_rate"] = approval_rate(
        out["authorised_count"], out["declined_count"], out["refused_count"]
    )
    if not out.empty:
        out["day"] = pd.to_datetime(out["day"]).dt.strftime("%Y-%m-%d")
    out = out.sort_values(KEYS, kind="stable").reset_index(drop=True)
    return out[DAILY_COLUMNS]


def totals_summary(daily: pd.DataFrame) -> pd.DataFrame:
    """The daily figures summed per currency over the whole period."""
    numeric = [c for c in daily.columns if c not in KEYS and c != "approval_rate"]
    if daily.empty:
        out = pd.DataFrame({c: pd.Series([], dtype="int64") for c in numeric})
        out.insert(0, "currency", pd.Series([], dtype=object))
    else:
        out = daily.groupby("currency", sort=True)[numeric].sum().reset_index()
    out["approval_rate"] = approval_rate(
        out["authorised_count"], out["declined_count"], out["refused_count"]
    )
    return out


DECLINE_COLUMNS = [*KEYS, "outcome", "decline_code", "declined_count", "declined_cents"]


def declines_summary(activity: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Declined and refused payment attempts per day, currency, brand, scenario and code.

    ``outcome`` is ``declined`` (the card network or issuer said no) or ``refused`` (the
    gateway refused the charge itself: an invalid recurring token, a blocked card).
    """
    empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in DECLINE_COLUMNS})
    if activity.empty:
        return empty
    mask = activity["kind"].isin(INITIATING) & activity["state"].isin(["declined", "failed"])
    a = activity[mask]
    if a.empty:
        return empty
    refused = (a["state"] == "failed").to_numpy(dtype=bool)
    raw = a["decline_code"].astype(object)
    code = np.where(raw.notna(), raw, np.where(refused, "charge_failed", "unknown"))
    work = pd.DataFrame(
        {
            "day": local_day(a["created_at"], tz),
            "currency": a["currency"],
            "brand": brand_of(a["brand"]),
            "scenario": scenario_of(a["kind"], a["owner_kind"]),
            "outcome": pd.Categorical(np.where(refused, "refused", "declined")),
            "decline_code": pd.Categorical(code.astype(str)),
            "cents": a["amount_cents"],
        }
    )
    out = (
        work.groupby([*KEYS, "outcome", "decline_code"], observed=True, sort=False)["cents"]
        .agg(declined_count="size", declined_cents="sum")
        .reset_index()
    )
    out["day"] = pd.to_datetime(out["day"]).dt.strftime("%Y-%m-%d")
    for name in ("currency", "brand", "scenario", "outcome", "decline_code"):
        out[name] = out[name].astype(str)
    out = out.sort_values([*KEYS, "outcome", "decline_code"], kind="stable")
    out = out.reset_index(drop=True)
    return out[DECLINE_COLUMNS]


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
    daily = daily_summary(frames.activity, tz, getattr(frames, "chargebacks", None))
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
