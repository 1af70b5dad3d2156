"""Words and small column helpers every summary shares: scenarios, keys, days, brands, rates.

Kept apart from the summaries so that the period figures (:mod:`~payflows.reports.summaries`)
and the standing figures (:mod:`~payflows.reports.standing`) read attempts the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "ACTING_ON",
    "INITIATING",
    "KEYS",
    "SCENARIOS",
    "SCENARIO_NAMES",
    "approval_rate",
    "brand_of",
    "local_day",
    "remap",
    "scenario_of",
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
ACTING_ON = ("cancel", "refund", "refund_cancel")
#: Kinds that start a payment: what approval rates are made of.
INITIATING = ("cit", "mit", "preauth", "zero_auth")
#: The keys of every per-day table.
KEYS = ["day", "currency", "brand", "scenario"]

SCENARIO_NAMES = sorted({*SCENARIOS.values(), "other"})


def remap(series: pd.Series, mapping: dict[str, str], default: str) -> pd.Categorical:
    """A categorical's values mapped through ``mapping`` by category, not by row (fast).

    The result's categories are always the scenario names, so two results can be combined
    code by code.
    """
    cat = series.astype("category")
    categories = list(cat.cat.categories)
    index = {t: i for i, t in enumerate(SCENARIO_NAMES)}
    table = np.array(
        [index[mapping.get(str(c), default)] for c in categories] + [index[default]],
        dtype=np.int8,
    )
    codes = cat.cat.codes.to_numpy()
    return pd.Categorical.from_codes(table[codes], categories=SCENARIO_NAMES)


def scenario_of(kind: pd.Series, owner_kind: pd.Series) -> pd.Categorical:
    """The scenario of each attempt: its own kind's, or its purchase's for cancels/refunds."""
    own = remap(kind, SCENARIOS, "other")
    owner = remap(owner_kind, SCENARIOS, "other")
    acting = np.asarray(kind.isin(ACTING_ON))
    codes = np.where(acting, owner.codes, own.codes)
    return pd.Categorical.from_codes(codes, categories=SCENARIO_NAMES)


def local_day(ts: pd.Series, tz: str) -> pd.Series:
    """The merchant's calendar day of each UTC instant (naive midnight)."""
    return ts.dt.tz_convert(tz).dt.normalize().dt.tz_localize(None)


def brand_of(series: pd.Series) -> pd.Series:
    """The card brand as a categorical, ``unknown`` where nobody reported it."""
    cat = series.astype("category")
    if "unknown" not in cat.cat.categories:
        cat = cat.cat.add_categories(["unknown"])
    return cat.fillna("unknown")


def approval_rate(approved: pd.Series, *failed: pd.Series) -> pd.Series:
    """approved / (approved + every failed count given); empty (NaN) where nothing was decided."""
    decided = approved.copy()
    for part in failed:
        decided = decided + part
    rate = approved.astype("float64") / decided.where(decided > 0)
    return rate.round(4)
