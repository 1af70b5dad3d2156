"""Reconciliation's comparison on hand-built ledger rows and gateway views: every kind found,
an agreeing purchase left alone, and only settlement offered to the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from payflows.ledger.settlement import SettlementReport
from payflows.reports.reconcile import (
    ACTIONS,
    MISMATCH_COLUMNS,
    GatewayView,
    compare,
    empty_mismatches,
    settlement_moves,
)

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def purchase(pid: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "purchase_id": pid,
        "business_key": f"cit:{pid}",
        "kind": "cit",
        "state": "succeeded",
        "purchase_status": "paid",
        "currency": "ZAR",
        "amount_cents": 10_000,
        "captured_cents": 0,
        "refunded_cents": 0,
        "expected_paid_cents": 10_000,
    }
    return {**base, **extra}


def view(pid: str, **extra: object) -> GatewayView:
    base: dict[str, object] = {
        "status": "paid",
        "total_cents": 10_000,
        "paid_cents": 10_000,
        "refundable_cents": 10_000,
    }
    return GatewayView(pid, **{**base, **extra})  # type: ignore[arg-type]


def test_each_kind_of_mismatch_is_listed_with_its_action() -> None:
    ledger = pd.DataFrame(
        [
            purchase("agree"),
            purchase("gone"),
            purchase("silent"),
            purchase("behind"),
            purchase("conflict", purchase_status="released", kind="preauth", expected_paid_cents=0),
            purchase("short"),
            purchase("refunded", refunded_cents=2_000),
            purchase(
                "lost", state="unknown", purchase_status="pending_execute", expected_paid_cents=0
            ),
            purchase("lapsed", kind="preauth", purchase_status="hold", expected_paid_cents=0),
            purchase(
                "checked",
                kind="zero_auth",
                purchase_status="preauthorized",
                amount_cents=0,
                expected_paid_cents=0,
            ),
        ]
    )
    views = [
        view("agree"),
        GatewayView("gone", missing=True),
        GatewayView("silent", error="GatewayUnavailableError"),
        view("behind", status="cancelled", refundable_cents=0),
        view("conflict", status="hold", paid_cents=None),
        view("short", paid_cents=9_000, refundable_cents=9_000),
        view("refunded", refundable_cents=7_000),
        view("lost", status="paid"),
        view("lapsed", status="expired", paid_cents=None, refundable_cents=0),
        view("checked", status="expired", total_cents=0, paid_cents=None, refundable_cents=0),
    ]
    unknown = pd.DataFrame(
        [{"purchase_id": "stranger", "event_type": "purchase.paid", "status": "paid"}]
    )

    out = compare(ledger, views, unknown)

    assert list(out.columns) == MISMATCH_COLUMNS
    kinds = dict(zip(out["purchase_id"], out["mismatch"], strict=True))
    assert "agree" not in kinds
    assert kinds == {
        "gone": "missing_at_gateway",
        "silent": "unreadable",
        "behind": "status_behind",
        "conflict": "status_conflict",
        "short": "amount_mismatch",
        "refunded": "refund_mismatch",
        "lost": "unresolved",
        "lapsed": "hold_expired",
        "stranger": "unknown_to_ledger",
    }  # a zero-auth's validation lapsing ("checked") is no mismatch
    diffs = dict(zip(out["purchase_id"], out["difference_cents"], strict=True))
    assert diffs["short"] == -1_000 and diffs["refunded"] == 1_000
    assert all(out["action"] == out["mismatch"].map(ACTIONS))
    assert out.loc[out["purchase_id"] == "behind", "business_key"].item() == "cit:behind"


def test_a_partial_capture_and_a_fully_refunded_purchase_agree() -> None:
    ledger = pd.DataFrame(
        [
            purchase(
                "held",
                kind="preauth",
                amount_cents=100_000,
                captured_cents=60_000,
                expected_paid_cents=60_000,
            ),
            purchase("back", purchase_status="refunded", refunded_cents=10_000),
            purchase(
                "zero",
                kind="zero_auth",
                purchase_status="preauthorized",
                amount_cents=0,
                expected_paid_cents=0,
            ),
        ]
    )
    views = [
        view("held", total_cents=100_000, paid_cents=60_000, refundable_cents=60_000),
        view("back", status="refunded", refundable_cents=0),
        view("zero", status="preauthorized", total_cents=0, paid_cents=None, refundable_cents=0),
    ]
    assert compare(ledger, views).empty


def test_only_settlement_is_offered_to_the_ledger() -> None:
    settled_on = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    ledger = pd.DataFrame(
        [
            purchase("clears"),
            purchase("settles", purchase_status="cleared"),
            purchase("cancelled"),
            purchase("already", purchase_status="settled"),
        ]
    )
    figures = SettlementReport("settles", paid_cents=10_000, fee_cents=250, settled_at=settled_on)
    views = [
        view("clears", status="cleared"),
        view("settles", status="settled", settlement=figures),
        view("cancelled", status="cancelled"),
        view("already", status="settled"),
        GatewayView("missing", missing=True),
    ]

    moves, reports = settlement_moves(ledger, views, NOW)

    assert [(m.purchase_id, str(m.status), m.observed_at) for m in moves] == [
        ("clears", "cleared", NOW),
        ("settles", "settled", settled_on),
    ]
    assert reports == [figures]


def test_empty_reconciliation_has_its_columns() -> None:
    out = empty_mismatches()
    assert out.empty and list(out.columns) == MISMATCH_COLUMNS
