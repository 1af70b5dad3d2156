"""The report's SQL on both backends: the period's attempts, purchases paid later, refunds,
holds, and the ledger side of reconciliation, read from a ledger written by the repo functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, select, update

from payflows.ledger import (
    AttemptKind,
    AttemptState,
    PaymentAttempt,
    UnitOfWork,
    attach_purchase,
    record_hold,
    record_intent,
    record_outcome,
    record_refund,
    record_webhook_event,
)
from payflows.ledger.settlement import SettlementReport, record_settlements
from payflows.reports import Period, build_summaries
from payflows.reports import frame as frame_module
from payflows.reports.frame import ACTIVITY_COLUMNS, load_activity
from payflows.reports.reconcile import ledger_purchases, unknown_to_ledger

NOON = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 12:00 SAST
PERIOD = Period(date(2026, 12, 1), date(2026, 12, 1), "Africa/Johannesburg")


def attempt(
    uow: UnitOfWork,
    key: str,
    kind: AttemptKind,
    cents: int,
    *,
    state: AttemptState,
    status: str | None,
    purchase: str | None = None,
    related: str | None = None,
    at: datetime = NOON,
    decline: str | None = None,
) -> None:
    record_intent(uow, key, kind, cents, "ZAR", related_purchase_id=related)
    if purchase:
        attach_purchase(uow, key, purchase)
    record_outcome(
        uow,
        business_key=key,
        state=state,
        purchase_status=status,
        decline_code=decline,
        brand="visa",
        observed_at=at,
    )
    uow.session.exec(
        update(PaymentAttempt).where(PaymentAttempt.business_key == key).values(created_at=at)
    )


def seed(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        s = AttemptState.SUCCEEDED
        attempt(uow, "cit:1", AttemptKind.CIT, 10_000, state=s, status="paid", purchase="p1")
        attempt(
            uow,
            "cit:2",
            AttemptKind.CIT,
            5_000,
            state=AttemptState.DECLINED,
            status="error",
            purchase="p2",
            decline="do_not_honour",
        )
        attempt(uow, "refund:p1:a", AttemptKind.REFUND, 4_000, state=s, status="paid", related="p1")
        refund_attempt = uow.session.exec(
            select(PaymentAttempt.id).where(PaymentAttempt.business_key == "refund:p1:a")
        ).scalar_one()
        record_refund(uow, "rf-1", "p1", 4_000, "ZAR", created_at=NOON, attempt_id=refund_attempt)
        # A refund cancelled before it settled: not money given back.
        attempt(uow, "refund:p1:b", AttemptKind.REFUND, 1_000, state=s, status="paid", related="p1")
        undone = uow.session.exec(
            select(PaymentAttempt.id).where(PaymentAttempt.business_key == "refund:p1:b")
        ).scalar_one()
        record_refund(
            uow, "rf-2", "p1", 1_000, "ZAR", created_at=NOON, attempt_id=undone, status="cancelled"
        )
        # A hold made the day before, captured in the period: paid in the period.
        before = NOON - timedelta(days=1)
        attempt(
            uow,
            "pre:3",
            AttemptKind.PREAUTH,
            9_000,
            state=s,
            status="hold",
            purchase="p3",
            at=before,
        )
        record_hold(
            uow,
            "p3",
            authorised_cents=9_000,
            currency="ZAR",
            authorised_at=before,
            expires_at=before + timedelta(days=7),
        )
        attempt(uow, "capture:p3", AttemptKind.CAPTURE, 6_000, state=s, status="paid", related="p3")
        record_settlements(
            uow,
            [
                SettlementReport("p1", 10_000, 250, 9_750, paid_at=NOON),
                SettlementReport("p3", 6_000, 150, 5_850, paid_at=NOON + timedelta(hours=1)),
            ],
        )
        # An open hold of the period, and a webhook for a purchase nobody here made.
        attempt(uow, "pre:4", AttemptKind.PREAUTH, 2_000, state=s, status="hold", purchase="p4")
        record_hold(
            uow,
            "p4",
            authorised_cents=2_000,
            currency="ZAR",
            authorised_at=NOON,
            expires_at=NOON + timedelta(days=7),
        )
        record_webhook_event(
            uow, "dk-1", event_type="purchase.paid", purchase_id="stranger", received_at=NOON
        )
        # Outran our own write of p1's purchase id: unapplied, yet p1 is known to the ledger.
        record_webhook_event(
            uow, "dk-2", event_type="purchase.created", purchase_id="p1", received_at=NOON
        )
        uow.commit()


def test_the_report_reads_the_period_on_this_backend(engine: Engine) -> None:
    seed(engine)

    s = build_summaries(engine, PERIOD, NOON)

    assert s.extra["attempts"] == 6  # the pre-auth of the day before is not an attempt of today
    (t,) = s.totals.to_dict("records")
    assert (t["authorised_count"], t["authorised_cents"]) == (2, 12_000)
    assert (t["declined_count"], t["paid_cents"], t["captured_cents"]) == (1, 16_000, 6_000)
    assert (t["refunded_cents"], t["refunds_partial_count"]) == (4_000, 1)
    # Net: paid less refunds (the cancelled one left out) and fees.
    assert (t["fee_cents"], t["net_cents"]) == (400, 16_000 - 4_000 - 400)
    assert s.declines["decline_code"].tolist() == ["do_not_honour"]
    paid = s.settlement
    assert int(paid["paid_count"].sum()) == 2 and int(paid["paid_cents"].sum()) == 16_000
    assert int(paid["awaiting_cents"].sum()) == 16_000  # neither has settled yet
    assert s.refunds.values.tolist() == [
        ["2026-12-01", "ZAR", "cancelled", 1, 1_000],
        ["2026-12-01", "ZAR", "pending", 1, 4_000],
    ]
    assert set(s.holds["purchase_id"]) == {"p4"}


def test_the_ledger_side_of_reconciliation(engine: Engine) -> None:
    seed(engine)

    ledger = ledger_purchases(engine, PERIOD).set_index("purchase_id")
    unknown = unknown_to_ledger(engine, PERIOD)

    assert sorted(ledger.index) == ["p1", "p2", "p3", "p4"]
    assert ledger.loc["p1", "refunded_cents"] == 4_000
    assert ledger.loc["p1", "expected_paid_cents"] == 10_000
    assert ledger.loc["p3", "expected_paid_cents"] == 6_000  # the capture, not the hold
    assert ledger.loc["p2", "expected_paid_cents"] == 0
    assert unknown["purchase_id"].tolist() == ["stranger"]


def _records(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    rows = frame.astype(object).where(frame.notna(), None)
    return sorted(map(tuple, rows.itertuples(index=False)), key=repr)


def test_the_split_read_gives_what_one_joined_query_gives(engine: Engine) -> None:
    """Attempts without an owner are read without the join: same rows, same values, same dtypes."""
    seed(engine)
    with engine.connect() as conn:
        params = frame_module._period(conn, PERIOD)
        joined = frame_module._read(conn, frame_module._ACTIVITY_SQL, ACTIVITY_COLUMNS, params)

    activity = load_activity(engine, PERIOD, chunk_rows=2)

    assert len(activity) == len(joined) == 6
    assert activity.dtypes.to_dict() == joined.dtypes.to_dict()
    assert _records(activity) == _records(joined)
    by_kind = activity.set_index("kind")
    refunds = by_kind.loc["refund"]
    assert set(refunds["owner_kind"]) == {"cit"} and list(refunds["owner_paid_cents"]) == [
        10_000,
        10_000,
    ]
    assert sorted(refunds["refund_cancelled"]) == [False, True]
    assert by_kind.loc["capture", "fee_cents"] == 150  # the captured purchase's fee
    payments = activity[activity["kind"].isin(["cit", "preauth"])]
    assert payments["owner_kind"].isna().all() and not payments["refund_cancelled"].any()
