from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from payflows.domain import Status
from payflows.ledger import (
    HoldDecision,
    LedgerError,
    RefundStatus,
    UnitOfWork,
    WebhookEvent,
    apply_gateway_status,
    decide_hold,
    due_holds,
    mark_webhook_applied,
    record_hold,
    record_refund,
    record_webhook_event,
    webhook_dedupe_key,
)
from tests.support.shared import WEBHOOK_SAMPLES

T0 = datetime(2025, 7, 1, tzinfo=UTC)
SAMPLES = WEBHOOK_SAMPLES


def _hold(uow: UnitOfWork, purchase_id: str, days: int, *, is_mit: bool = False) -> None:
    record_hold(
        uow,
        purchase_id,
        authorised_cents=10000,
        currency="ZAR",
        brand="visa",
        is_mit=is_mit,
        authorised_at=T0,
        expires_at=T0 + timedelta(days=days),
    )


def test_due_holds_are_open_holds_near_their_deadline(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        _hold(uow, "h-visa-mit", 5, is_mit=True)
        _hold(uow, "h-visa", 7)
        _hold(uow, "h-mc", 30)
        _hold(uow, "h-released", 6)
        apply_gateway_status(uow, "h-released", Status.PENDING_RELEASE, T0 + timedelta(hours=1))
        uow.commit()
    with UnitOfWork(engine) as uow:
        due = due_holds(uow, T0 + timedelta(days=5), margin=timedelta(days=1))
        assert [h.purchase_id for h in due] == ["h-visa-mit"]
        due = due_holds(uow, T0 + timedelta(days=6), margin=timedelta(days=1))
        assert [h.purchase_id for h in due] == ["h-visa-mit", "h-visa"]
        assert len(due_holds(uow, T0 + timedelta(days=60), limit=2)) == 2


def test_hold_decisions(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        _hold(uow, "h1", 7)
        hold = decide_hold(uow, "h1", HoldDecision.CAPTURE)
        assert (hold.decision, hold.decision_cents) == (HoldDecision.CAPTURE, 10000)
        with pytest.raises(LedgerError):
            decide_hold(uow, "h1", "capture", 10001)
        hold = decide_hold(uow, "h1", "void")
        assert (hold.decision, hold.decision_cents) == (HoldDecision.VOID, None)
        apply_gateway_status(uow, "h1", Status.RELEASED, T0 + timedelta(days=1))
        with pytest.raises(LedgerError, match="no longer open"):
            decide_hold(uow, "h1", "capture")
        with pytest.raises(LedgerError):
            decide_hold(uow, "nope", "void")


def test_refunds_are_stored_once_and_settle_once(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        first = record_refund(uow, "rf-1", "pur-1", 1500, "ZAR", created_at=T0)
        again = record_refund(uow, "rf-1", "pur-1", 1500, "ZAR")
        assert again.id == first.id and again.status == RefundStatus.PENDING
        settled = record_refund(
            uow, "rf-1", "pur-1", 1500, "ZAR", status="settled", settled_at=T0 + timedelta(days=1)
        )
        assert settled.status == RefundStatus.SETTLED
        assert settled.settled_at == T0 + timedelta(days=1)
        late = record_refund(uow, "rf-1", "pur-1", 1500, "ZAR", status="cancelled")
        assert late.status == RefundStatus.SETTLED and late.cancelled_at is None
        uow.commit()


def test_a_webhook_is_stored_once(engine: Engine) -> None:
    body = b'{"event_type": "purchase.paid", "id": "pur-1", "status": "paid"}'
    key = webhook_dedupe_key(body)
    with UnitOfWork(engine) as uow:
        assert record_webhook_event(
            uow,
            key,
            event_type="purchase.paid",
            purchase_id="pur-1",
            status="paid",
            event_at=T0,
            payload=json.loads(body),
        )
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert not record_webhook_event(uow, key, event_type="purchase.paid")
        assert mark_webhook_applied(uow, key)
        assert not mark_webhook_applied(uow, key)
        uow.commit()
    with UnitOfWork(engine) as uow:
        events = list(uow.session.exec(select(WebhookEvent)).scalars())  # type: ignore[call-overload]
    assert len(events) == 1
    assert events[0].applied and events[0].payload["status"] == "paid"
    assert events[0].event_at == T0 and events[0].received_at.tzinfo is not None


def test_concurrent_deliveries_of_one_webhook_store_it_once(engine: Engine) -> None:
    barrier = threading.Barrier(4)
    results: list[bool] = []
    errors: list[BaseException] = []

    def receive() -> None:
        try:
            barrier.wait()
            with UnitOfWork(engine) as uow:
                stored = record_webhook_event(uow, "same-key", event_type="purchase.hold")
                uow.commit()
            results.append(stored)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=receive) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(results) == [False, False, False, True]


def test_stored_payloads_carry_no_card_data(engine: Engine) -> None:
    sample = json.loads((SAMPLES / "01-event-Purchase-paid.json").read_text())
    sample["card_number"] = "4444333322221111"
    sample["note"] = "4444 3333 2222 1111"
    sample.setdefault("transaction_data", {}).setdefault("extra", {})["cvc"] = "123"
    with UnitOfWork(engine) as uow:
        record_webhook_event(uow, "k", event_type="purchase.paid", payload=sample)
        uow.commit()
    with UnitOfWork(engine) as uow:
        stored = uow.session.exec(select(WebhookEvent.payload)).scalar_one()  # type: ignore[call-overload]
    text = json.dumps(stored)
    assert "4444333322221111" not in text and "4444 3333 2222 1111" not in text
    assert '"cvc"' not in text and "card_number" not in text
    assert stored["note"] == "444433******1111"
    assert stored["event_type"] == sample["event_type"]


def test_webhook_insert_once_without_returning(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_engine.dialect, "insert_returning", False)
    with UnitOfWork(sqlite_engine) as uow:
        assert record_webhook_event(uow, "k1", event_type="purchase.created")
        assert not record_webhook_event(uow, "k1", event_type="purchase.created")
