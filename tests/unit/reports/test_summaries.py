"""The pure summaries on hand-built frames: every figure checked, days in the merchant's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from payflows.reports import Period, resolve_period
from payflows.reports.frame import activity_frame, empty_frame, settlement_frame
from payflows.reports.summaries import (
    approval_rate,
    daily_summary,
    declines_summary,
    holds_summary,
    settlement_lag,
    settlement_summary,
    subscriptions_summary,
    totals_summary,
)

TZ = "Africa/Johannesburg"
# 23:30 UTC on Nov 30 is 01:30 SAST on Dec 1: a Dec 1 sale.
LATE = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
NOON = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def row(kind: str, state: str, cents: int, **extra: object) -> dict[str, object]:
    return {
        "kind": kind,
        "state": state,
        "amount_cents": cents,
        "currency": "ZAR",
        "brand": "visa",
        "created_at": NOON,
        **extra,
    }


def test_period_bounds_are_the_merchants_midnights() -> None:
    period = Period(date(2026, 12, 1), date(2026, 12, 2), TZ)
    assert period.start_utc == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    assert period.end_utc == datetime(2026, 12, 2, 22, 0, tzinfo=UTC)
    assert period.label == "2026-12-01_2026-12-02"
    assert resolve_period(None, None, TZ, LATE) == Period(date(2026, 12, 1), date(2026, 12, 1), TZ)
    assert resolve_period(date(2026, 12, 5), None, TZ).date_to == date(2026, 12, 5)
    yesterday = datetime.now(UTC).astimezone(period.tz).date() - timedelta(days=1)
    assert resolve_period(None, None, TZ).date_from == yesterday
    with pytest.raises(ValueError, match="unknown time zone"):
        Period(date(2026, 12, 1), date(2026, 12, 1), "Mars/Olympus")
    with pytest.raises(ValueError, match="before it starts"):
        Period(date(2026, 12, 2), date(2026, 12, 1), TZ)


def test_daily_summary_counts_and_cents_per_scenario() -> None:
    frame = activity_frame(
        [
            row("cit", "succeeded", 30_000, fee_cents=750, net_cents=29_250, created_at=LATE),
            row("cit", "declined", 5_000, decline_code="insufficient_funds"),
            row("cit", "declined", 7_000, decline_code="do_not_honour"),
            row("cit", "unknown", 1_000),
            row("mit", "succeeded", 9_900, fee_cents=248, net_cents=9_652),
            row("preauth", "succeeded", 100_000),
            row("capture", "succeeded", 60_000, fee_cents=1_500, net_cents=58_500),
            row("void", "succeeded", 50_000),
            row("zero_auth", "succeeded", 0),
            # Acting on other purchases: their scenarios are the purchases'.
            row("refund", "succeeded", 30_000, owner_kind="cit", owner_paid_cents=30_000),
            row("refund", "succeeded", 2_345, owner_kind="cit", owner_paid_cents=12_345),
            row("refund_cancel", "succeeded", 1_000, owner_kind="cit"),
            row("cancel", "succeeded", 20_000, owner_kind="mit"),
            row("refund", "succeeded", 500, owner_kind=None),  # a purchase we do not know
        ]
    )

    daily = daily_summary(frame, TZ)

    by = {r["scenario"]: r for r in daily.to_dict("records")}
    assert set(daily["day"]) == {"2026-12-01"} and set(by) == {
        "cit",
        "mit",
        "preauth_capture",
        "zero_auth",
        "other",
    }
    cit = by["cit"]
    assert (cit["authorised_count"], cit["authorised_cents"]) == (1, 30_000)
    assert (cit["declined_count"], cit["declined_cents"]) == (2, 12_000)
    assert (cit["unresolved_count"], cit["paid_cents"], cit["fee_cents"]) == (1, 30_000, 750)
    assert (cit["refunded_count"], cit["refunded_cents"]) == (2, 32_345)
    assert (cit["refunds_full_count"], cit["refunds_partial_count"]) == (1, 1)
    assert (cit["refunds_cancelled_count"], cit["refunds_cancelled_cents"]) == (1, 1_000)
    assert cit["approval_rate"] == pytest.approx(0.3333)
    pre = by["preauth_capture"]
    assert (pre["authorised_cents"], pre["captured_cents"], pre["paid_cents"]) == (
        100_000,
        60_000,
        60_000,
    )
    assert (pre["voided_cents"], pre["fee_cents"], pre["net_cents"]) == (50_000, 1_500, 58_500)
    assert by["mit"]["cancelled_cents"] == 20_000 and by["mit"]["paid_cents"] == 9_900
    assert by["zero_auth"]["authorised_count"] == 1 and by["zero_auth"]["approval_rate"] == 1.0
    assert by["other"]["refunded_cents"] == 500 and pd.isna(by["other"]["approval_rate"])
    assert daily["paid_cents"].dtype == "int64"

    (totals,) = totals_summary(daily).to_dict("records")
    assert totals["paid_cents"] == 30_000 + 9_900 + 60_000
    assert totals["fee_cents"] == 750 + 248 + 1_500 and totals["fees_reported_count"] == 3
    assert totals["approval_rate"] == pytest.approx(round(4 / 6, 4))

    declines = declines_summary(frame, TZ)
    assert declines[["decline_code", "declined_count", "declined_cents"]].values.tolist() == [
        ["do_not_honour", 1, 7_000],
        ["insufficient_funds", 1, 5_000],
    ]


def test_days_split_at_the_merchants_midnight_and_brands_stay_apart() -> None:
    frame = activity_frame(
        [
            row("cit", "succeeded", 100, created_at=datetime(2026, 11, 30, 21, 59, tzinfo=UTC)),
            row("cit", "succeeded", 200, created_at=datetime(2026, 11, 30, 22, 0, tzinfo=UTC)),
            row("cit", "succeeded", 400, brand="mastercard"),
            row("cit", "succeeded", 800, brand=None, currency="USD"),
        ]
    )

    daily = daily_summary(frame, TZ)

    got = daily[["day", "currency", "brand", "paid_cents"]].values.tolist()
    assert got == [
        ["2026-11-30", "ZAR", "visa", 100],
        ["2026-12-01", "USD", "unknown", 800],
        ["2026-12-01", "ZAR", "mastercard", 400],
        ["2026-12-01", "ZAR", "visa", 200],
    ]
    assert totals_summary(daily)["currency"].tolist() == ["USD", "ZAR"]


def test_large_amounts_stay_exact_integers() -> None:
    big = 9_007_199_254_740_993  # above 2**53: a float would round it
    daily = daily_summary(activity_frame([row("cit", "succeeded", big)] * 3), TZ)
    assert int(daily["paid_cents"].iloc[0]) == 3 * big


def test_settlement_settled_awaiting_and_closed() -> None:
    paid = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    frame = settlement_frame(
        [
            {
                "kind": "cit",
                "purchase_status": "settled",
                "currency": "ZAR",
                "brand": "visa",
                "paid_cents": 1_000,
                "fee_cents": 25,
                "net_cents": 975,
                "paid_at": paid,
                "settled_at": paid + timedelta(days=2),
            },
            {
                "kind": "preauth",
                "purchase_status": "cleared",
                "currency": "ZAR",
                "brand": "visa",
                "paid_cents": 3_000,
                "paid_at": paid,
            },
            {
                "kind": "mit",
                "purchase_status": "chargeback",
                "currency": "ZAR",
                "brand": "visa",
                "paid_cents": 700,
                "paid_at": paid,
                "settled_at": paid + timedelta(days=2),
            },
            {
                "kind": "cit",
                "purchase_status": "refunded",
                "currency": "ZAR",
                "brand": "visa",
                "paid_cents": 500,
                "fee_cents": 13,
                "net_cents": 487,
                "paid_at": paid,
            },
        ]
    )

    out = settlement_summary(frame, TZ)

    totals = out.drop(columns=[*out.columns[:4], "mean_lag_hours"]).sum().to_dict()
    assert totals == {
        "paid_count": 4,
        "paid_cents": 5_200,
        "fee_cents": 38,
        "gateway_net_cents": 1_462,
        "fees_reported_count": 2,
        "settled_count": 2,
        "settled_cents": 1_700,
        "awaiting_count": 1,
        "awaiting_cents": 3_000,
        "not_settling_count": 1,
        "not_settling_cents": 500,
        "charged_back_count": 1,
        "charged_back_cents": 700,
    }
    cit = out[out["scenario"] == "cit"].iloc[0]
    assert cit["mean_lag_hours"] == 48.0
    assert settlement_lag(frame).values.tolist() == [[2, "ZAR", 2, 1_700]]


def test_open_holds_soonest_first_with_hours_left() -> None:
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    holds = pd.DataFrame(
        {
            "purchase_id": ["later", "lapsed"],
            "authorised_cents": [40_000, 10_000],
            "currency": ["ZAR", "ZAR"],
            "brand": ["mastercard", "visa"],
            "is_mit": [False, True],
            "authorised_at": pd.to_datetime([now, now - timedelta(days=6)], utc=True),
            "expires_at": pd.to_datetime(
                [now + timedelta(days=30), now - timedelta(hours=2)], utc=True
            ),
            "decision": ["none", "capture"],
            "decision_cents": [None, None],
        }
    )

    out = holds_summary(holds, now, TZ)

    assert out["purchase_id"].tolist() == ["lapsed", "later"]
    assert out["hours_left"].tolist() == [-2.0, 720.0]
    assert out["lapsed"].tolist() == [True, False]
    assert out["expires_at"].iloc[1] == "2026-12-31 12:00"  # SAST


def test_subscriptions_by_dunning_state() -> None:
    subs = pd.DataFrame(
        {
            "status": ["active", "active", "past_due", "suspended"],
            "currency": ["ZAR"] * 4,
            "amount_cents": [9_900, 9_900, 19_900, 4_900],
            "failed_attempts": [0, 0, 2, 4],
            "retry_at": pd.to_datetime([None, None, NOON, None], utc=True),
            "last_decline_code": [None, None, "insufficient_funds", "expired_card"],
        }
    )

    out = subscriptions_summary(subs)

    assert out.values.tolist() == [
        ["active", "current", "", "ZAR", 2, 19_800, 0],
        ["past_due", "retrying", "insufficient_funds", "ZAR", 1, 19_900, 2],
        ["suspended", "stopped", "expired_card", "ZAR", 1, 4_900, 4],
    ]


def test_stopped_subscriptions_show_their_failures_and_why() -> None:
    """A refused charge suspends without moving the dunning counter: the ledger's attempts say."""
    subs = pd.DataFrame(
        {
            "status": ["suspended", "suspended", "past_due"],
            "currency": ["ZAR"] * 3,
            "amount_cents": [9_900, 9_900, 4_900],
            "failed_attempts": [0, 3, 1],
            "retry_at": pd.to_datetime([None, None, None], utc=True),
            "last_decline_code": ["invalid_recurring_token", "do_not_honour", "expired_card"],
            "dunning_reason": [
                "charge refused invalid_recurring_token",
                "retries exhausted",
                None,
            ],
            "failed_since_paid": [1, 3, 1],
        }
    )

    out = subscriptions_summary(subs)

    assert out.values.tolist() == [
        ["past_due", "failing", "expired_card", "ZAR", 1, 4_900, 1],
        ["suspended", "stopped", "charge refused invalid_recurring_token", "ZAR", 1, 9_900, 1],
        ["suspended", "stopped", "retries exhausted", "ZAR", 1, 9_900, 3],
    ]


def test_cancelled_refunds_refusals_chargebacks_and_net() -> None:
    """Refunded is money given back; net is paid less refunds, fees and chargebacks."""
    frame = activity_frame(
        [
            row("cit", "succeeded", 30_000, fee_cents=750, net_cents=29_250),
            row("cit", "succeeded", 12_345, fee_cents=309, net_cents=12_036),
            row("refund", "succeeded", 2_345, owner_kind="cit", owner_paid_cents=12_345),
            row(
                "refund",
                "succeeded",
                1_000,
                owner_kind="cit",
                owner_paid_cents=12_345,
                refund_cancelled=True,
            ),
            row("refund_cancel", "succeeded", 1_000, owner_kind="cit"),
            row("mit", "failed", 9_900, decline_code="invalid_recurring_token"),
            row("mit", "failed", 9_900),
            row("mit", "declined", 9_900, decline_code="insufficient_funds"),
        ]
    )
    chargebacks = pd.DataFrame(
        {
            "kind": pd.Categorical(["cit"]),
            "currency": pd.Categorical(["ZAR"]),
            "brand": pd.Categorical(["visa"]),
            "paid_cents": pd.array([30_000], dtype="Int64"),
            "status_at": pd.to_datetime([NOON], utc=True),
        }
    )

    daily = daily_summary(frame, TZ, chargebacks)
    (totals,) = totals_summary(daily).to_dict("records")

    assert (totals["refunded_count"], totals["refunded_cents"]) == (1, 2_345)
    assert (totals["refunds_cancelled_count"], totals["refunds_cancelled_cents"]) == (1, 1_000)
    assert totals["refunds_partial_count"] == 1
    assert (totals["chargeback_count"], totals["chargeback_cents"]) == (1, 30_000)
    assert totals["net_cents"] == 42_345 - 2_345 - (750 + 309) - 30_000
    assert (totals["refused_count"], totals["refused_cents"]) == (2, 19_800)
    assert totals["approval_rate"] == pytest.approx(round(2 / 5, 4))
    declines = declines_summary(frame, TZ)
    got = declines[["outcome", "decline_code", "declined_count"]].values.tolist()
    assert got == [
        ["declined", "insufficient_funds", 1],
        ["refused", "charge_failed", 1],
        ["refused", "invalid_recurring_token", 1],
    ]


def test_empty_frames_give_empty_tables_with_their_columns() -> None:
    daily = daily_summary(activity_frame([]), TZ)
    assert daily.empty and "paid_cents" in daily.columns and "approval_rate" in daily.columns
    assert totals_summary(daily).empty
    assert declines_summary(activity_frame([]), TZ).empty
    empty_settlement = settlement_frame([])
    assert settlement_summary(empty_settlement, TZ).empty
    assert settlement_lag(empty_settlement).empty
    assert subscriptions_summary(empty_frame({"status": "str"})).empty


def test_approval_rate_is_empty_where_nothing_was_decided() -> None:
    rate = approval_rate(pd.Series([3, 0, 0]), pd.Series([1, 2, 0]))
    assert rate.iloc[0] == 0.75 and rate.iloc[1] == 0.0 and pd.isna(rate.iloc[2])
