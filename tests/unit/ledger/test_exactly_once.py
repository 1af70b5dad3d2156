from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from payflows.domain import Status
from payflows.ledger import (
    AttemptKind,
    AttemptNotFound,
    AttemptState,
    Intent,
    LedgerError,
    Outcome,
    PaymentAttempt,
    PurchaseConflict,
    StatusReport,
    UnitOfWork,
    apply_gateway_status,
    apply_gateway_statuses,
    attach_purchase,
    attach_purchases,
    decide_hold,
    get_attempt,
    mark_submitted,
    record_hold,
    record_intent,
    record_intents,
    record_outcome,
    record_outcomes,
    unresolved_attempts,
)

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _count(engine: Engine) -> int:
    with UnitOfWork(engine) as uow:
        return uow.session.exec(select(func.count()).select_from(PaymentAttempt)).scalar_one()  # type: ignore[call-overload]


def test_second_intent_for_a_business_key_returns_the_first_attempt(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        first = record_intent(uow, "cit:order-1", AttemptKind.CIT, 15000, "ZAR")
        uow.commit()
    with UnitOfWork(engine) as uow:
        again = record_intent(uow, "cit:order-1", AttemptKind.CIT, 99999, "USD")
        uow.commit()
    assert again.id == first.id
    assert (again.amount_cents, again.currency, again.state) == (15000, "ZAR", AttemptState.INTENT)
    assert _count(engine) == 1


def test_bulk_intents_are_idempotent_and_keep_the_order_given(engine: Engine) -> None:
    intents = [Intent(f"sub:{i}:2025-05", AttemptKind.MIT, 100 + i, "ZAR") for i in range(1200)]
    with UnitOfWork(engine) as uow:
        record_intent(uow, "sub:7:2025-05", AttemptKind.MIT, 1, "ZAR")
        attempts = record_intents(uow, intents)
        uow.commit()
    assert [a.business_key for a in attempts] == [i.business_key for i in intents]
    assert attempts[7].amount_cents == 1  # the one recorded first stands
    with UnitOfWork(engine) as uow:
        again = record_intents(uow, reversed(intents))
        uow.commit()
    assert [a.id for a in again] == [a.id for a in reversed(attempts)]
    assert _count(engine) == 1200


def test_concurrent_intents_for_one_key_make_one_attempt(engine: Engine) -> None:
    barrier = threading.Barrier(4)
    ids: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            with UnitOfWork(engine) as uow:
                attempt = record_intent(uow, "cit:race", AttemptKind.CIT, 500, "ZAR")
                uow.commit()
                ids.append(attempt.id)  # type: ignore[arg-type]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(ids) == 4 and len(set(ids)) == 1
    assert _count(engine) == 1


def test_a_second_purchase_for_the_same_key_is_refused(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        record_intent(uow, "cit:order-2", AttemptKind.CIT, 1000, "ZAR")
        record_intent(uow, "cit:order-3", AttemptKind.CIT, 1000, "ZAR")
        attempt = attach_purchase(uow, "cit:order-2", "pur-A")
        assert attempt.state == AttemptState.CREATED
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert attach_purchase(uow, "cit:order-2", "pur-A").purchase_id == "pur-A"  # no-op
        with pytest.raises(PurchaseConflict):
            attach_purchase(uow, "cit:order-2", "pur-B")
        with pytest.raises(PurchaseConflict):
            attach_purchase(uow, "cit:order-3", "pur-A")
        with pytest.raises(AttemptNotFound):
            attach_purchase(uow, "cit:nope", "pur-C")
    with UnitOfWork(engine) as uow:
        assert get_attempt(uow, purchase_id="pur-A").business_key == "cit:order-2"  # type: ignore[union-attr]
        assert get_attempt(uow, business_key="cit:order-3").purchase_id is None  # type: ignore[union-attr]


def test_bulk_attach_and_submit(engine: Engine) -> None:
    keys = [f"sub:{i}:p" for i in range(5)]
    with UnitOfWork(engine) as uow:
        record_intents(uow, [Intent(k, AttemptKind.MIT, 100, "ZAR") for k in keys])
        attach_purchases(uow, {k: f"pur-{i}" for i, k in enumerate(keys)})
        assert mark_submitted(uow, *keys) == 5
        assert mark_submitted(uow, *keys) == 0  # already submitted
        uow.commit()
    with UnitOfWork(engine) as uow:
        states = {a.state for a in unresolved_attempts(uow)}
    assert states == {AttemptState.SUBMITTED}


def test_an_attempt_without_a_purchase_cannot_be_submitted(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        record_intent(uow, "cit:order-4", AttemptKind.CIT, 1000, "ZAR")
        with pytest.raises(LedgerError, match="attach"):
            mark_submitted(uow, "cit:order-4")
        # A capture acts on an existing purchase, so it goes straight out.
        record_intent(
            uow, "cap:h1", AttemptKind.CAPTURE, 500, "ZAR", related_purchase_id="pur-hold"
        )
        assert mark_submitted(uow, "cap:h1") == 1


def test_outcomes_never_undo_a_success_but_a_read_back_corrects_a_decline(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        record_intents(uow, [Intent(k, AttemptKind.MIT, 900, "ZAR") for k in ("a", "b")])
        attach_purchases(uow, {"a": "pur-a", "b": "pur-b"})
        mark_submitted(uow, "a", "b")
        done = record_outcomes(
            uow,
            [
                Outcome(AttemptState.SUCCEEDED, business_key="a", purchase_status=Status.PAID),
                Outcome(
                    AttemptState.DECLINED,
                    purchase_id="pur-b",
                    purchase_status=Status.ERROR,
                    decline_code="insufficient_funds",
                    network_code="51",
                ),
            ],
        )
        uow.commit()
    assert [a.state for a in done] == [AttemptState.SUCCEEDED, AttemptState.DECLINED]
    assert done[1].decline_code == "insufficient_funds" and done[1].resolved_at is not None

    with UnitOfWork(engine) as uow:
        late = record_outcome(uow, business_key="a", state=AttemptState.UNKNOWN)
        assert late.state == AttemptState.SUCCEEDED
        wrong = record_outcome(uow, business_key="a", state=AttemptState.DECLINED)
        assert wrong.state == AttemptState.SUCCEEDED
        corrected = record_outcome(
            uow, purchase_id="pur-b", state=AttemptState.SUCCEEDED, purchase_status=Status.PAID
        )
        uow.commit()
    assert corrected.state == AttemptState.SUCCEEDED
    assert corrected.decline_code is None and corrected.purchase_status == Status.PAID
    with UnitOfWork(engine) as uow:
        assert unresolved_attempts(uow) == []
        with pytest.raises(AttemptNotFound):
            record_outcome(uow, business_key="zzz", state=AttemptState.FAILED)
        with pytest.raises(ValueError):
            record_outcome(uow, state=AttemptState.FAILED)


def test_unresolved_attempts_are_the_ones_to_read_back(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        for key in ("i", "c", "s", "u", "ok"):
            record_intent(uow, key, AttemptKind.CIT, 100, "ZAR")
        attach_purchases(uow, {"c": "p-c", "s": "p-s", "u": "p-u", "ok": "p-ok"})
        mark_submitted(uow, "s", "u", "ok")
        record_outcome(uow, business_key="u", state=AttemptState.UNKNOWN)
        record_outcome(uow, business_key="ok", state=AttemptState.SUCCEEDED)
        uow.commit()
    with UnitOfWork(engine) as uow:
        pending = unresolved_attempts(uow)
        assert [a.business_key for a in pending] == ["i", "c", "s", "u"]
        assert unresolved_attempts(uow, older_than=T0) == []
        soon = datetime.now(UTC) + timedelta(minutes=1)
        assert len(unresolved_attempts(uow, older_than=soon, limit=2)) == 2


def _purchase(engine: Engine, key: str, purchase_id: str, kind: AttemptKind) -> None:
    with UnitOfWork(engine) as uow:
        record_intent(uow, key, kind, 2500, "ZAR")
        attach_purchase(uow, key, purchase_id)
        mark_submitted(uow, key)
        uow.commit()


def test_hold_then_paid_applies(engine: Engine) -> None:
    _purchase(engine, "pre:1", "pur-1", AttemptKind.PREAUTH)
    with UnitOfWork(engine) as uow:
        assert apply_gateway_status(uow, "pur-1", Status.HOLD, T0)
        assert apply_gateway_status(uow, "pur-1", Status.PAID, T0 + timedelta(minutes=5))
        uow.commit()
    with UnitOfWork(engine) as uow:
        attempt = get_attempt(uow, purchase_id="pur-1")
    assert attempt is not None
    assert attempt.purchase_status == Status.PAID
    assert attempt.state == AttemptState.SUCCEEDED
    assert attempt.status_at == T0 + timedelta(minutes=5)


def test_paid_then_a_late_hold_is_ignored(engine: Engine) -> None:
    _purchase(engine, "pre:2", "pur-2", AttemptKind.PREAUTH)
    with UnitOfWork(engine) as uow:
        record_hold(
            uow,
            "pur-2",
            authorised_cents=2500,
            currency="ZAR",
            authorised_at=T0,
            expires_at=T0 + timedelta(days=7),
        )
        assert apply_gateway_status(
            uow, "pur-2", Status.PAID, T0 + timedelta(hours=1), amount_cents=2000
        )
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert not apply_gateway_status(uow, "pur-2", Status.HOLD, T0 + timedelta(hours=2))
        assert not apply_gateway_status(uow, "pur-2", Status.PAID, T0 + timedelta(hours=3))
        assert not apply_gateway_status(uow, "unknown-purchase", Status.PAID, T0)
        uow.commit()
    with UnitOfWork(engine) as uow:
        attempt = get_attempt(uow, purchase_id="pur-2")
        hold = record_hold(
            uow,
            "pur-2",
            authorised_cents=1,
            currency="ZAR",
            authorised_at=T0,
            expires_at=T0,
        )
    assert attempt is not None and attempt.purchase_status == Status.PAID
    assert (hold.status, hold.captured_cents, hold.authorised_cents) == (Status.PAID, 2000, 2500)


def test_a_decline_then_a_retry_on_the_same_purchase_orders_by_time(engine: Engine) -> None:
    # error -> pending_execute -> error is a cycle in the state table: time decides.
    _purchase(engine, "cit:retry", "pur-r", AttemptKind.CIT)
    reports = [
        StatusReport("pur-r", Status.PENDING_EXECUTE, T0),
        StatusReport("pur-r", Status.ERROR, T0 + timedelta(seconds=2)),
        StatusReport("pur-r", Status.PENDING_EXECUTE, T0),  # a duplicate of the first, late
    ]
    with UnitOfWork(engine) as uow:
        assert apply_gateway_statuses(uow, reports) == ["pur-r"]
        attempt = get_attempt(uow, purchase_id="pur-r")
        assert attempt is not None
        assert (attempt.purchase_status, attempt.state) == (Status.ERROR, AttemptState.DECLINED)
        # The payer tries again and pays: news, and the attempt turns out a success.
        again = [
            StatusReport("pur-r", Status.PENDING_EXECUTE, T0 + timedelta(minutes=1)),
            StatusReport("pur-r", Status.PAID, T0 + timedelta(minutes=1, seconds=3)),
        ]
        assert apply_gateway_statuses(uow, again) == ["pur-r"]
        assert (attempt.purchase_status, attempt.state) == (Status.PAID, AttemptState.SUCCEEDED)


def test_a_capture_outcome_moves_its_hold(engine: Engine) -> None:
    _purchase(engine, "pre:3", "pur-3", AttemptKind.PREAUTH)
    with UnitOfWork(engine) as uow:
        record_outcome(
            uow, business_key="pre:3", state=AttemptState.SUCCEEDED, purchase_status=Status.HOLD
        )
        record_hold(
            uow,
            "pur-3",
            authorised_cents=2500,
            currency="ZAR",
            authorised_at=T0,
            expires_at=T0 + timedelta(days=7),
        )
        decide_hold(uow, "pur-3", "capture", 1800)
        record_intent(
            uow, "cap:pur-3", AttemptKind.CAPTURE, 1800, "ZAR", related_purchase_id="pur-3"
        )
        mark_submitted(uow, "cap:pur-3")
        capture = record_outcome(
            uow,
            business_key="cap:pur-3",
            state=AttemptState.SUCCEEDED,
            purchase_status=Status.PAID,
        )
        uow.commit()
    assert capture.purchase_id is None and capture.purchase_status == Status.PAID
    with UnitOfWork(engine) as uow:
        hold = record_hold(
            uow, "pur-3", authorised_cents=0, currency="ZAR", authorised_at=T0, expires_at=T0
        )
        preauth = get_attempt(uow, purchase_id="pur-3")
    assert (hold.status, hold.captured_cents, hold.decision_cents) == (Status.PAID, 1800, 1800)
    assert preauth is not None and preauth.purchase_status == Status.PAID
