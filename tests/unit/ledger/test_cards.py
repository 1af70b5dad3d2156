"""What the gateway tells the ledger about a stored card after it was saved, recorded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payflows.ledger import (
    AttemptKind,
    AttemptState,
    UnitOfWork,
    attach_purchase,
    get_attempt,
    mark_submitted,
    record_intent,
    record_outcome,
    upsert_customer,
    upsert_payment_method,
)
from payflows.ledger.cards import (
    card_by_token,
    keep_network_transaction_id,
    mark_card_deleted,
    record_decline_code,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _card(uow: UnitOfWork, token: str = "pur-1", ntid: str | None = None) -> None:
    customer = upsert_customer(uow, "cus-1", email="c@example.com")
    upsert_payment_method(uow, token, customer_id=customer.id, network_transaction_id=ntid)


def test_a_card_is_marked_deleted_once_with_the_first_reports_time(engine):
    with UnitOfWork(engine) as uow:
        _card(uow)
        assert mark_card_deleted(uow, "pur-1", T0)
        assert not mark_card_deleted(uow, "pur-1", T0 + timedelta(seconds=3))
        assert not mark_card_deleted(uow, "unknown-token", T0)
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert card_by_token(uow, "pur-1").deleted_at == T0


def test_the_first_network_transaction_id_is_kept_and_never_replaced(engine):
    with UnitOfWork(engine) as uow:
        _card(uow)
        assert not keep_network_transaction_id(uow, "pur-1", None)
        assert keep_network_transaction_id(uow, "pur-1", "NT-FIRST")
        assert not keep_network_transaction_id(uow, "pur-1", "NT-LATER")
        assert not keep_network_transaction_id(uow, "no-such-token", "NT-X")
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert card_by_token(uow, "pur-1").network_transaction_id == "NT-FIRST"


def test_a_decline_code_is_kept_unless_one_is_known_or_the_attempt_succeeded(engine):
    with UnitOfWork(engine) as uow:
        for key in ("k-new", "k-known", "k-paid"):
            record_intent(uow, key, AttemptKind.CIT, 100, "ZAR")
            attach_purchase(uow, key, f"p-{key}")
            mark_submitted(uow, key)
        record_outcome(
            uow, business_key="k-known", state=AttemptState.DECLINED, decline_code="do_not_honour"
        )
        record_outcome(uow, business_key="k-paid", state=AttemptState.SUCCEEDED)
        assert record_decline_code(uow, "p-k-new", "general_transaction_error")
        assert not record_decline_code(uow, "p-k-known", "general_transaction_error")
        assert not record_decline_code(uow, "p-k-paid", "general_transaction_error")
        assert not record_decline_code(uow, "p-unknown", "general_transaction_error")
        uow.commit()
    with UnitOfWork(engine) as uow:
        codes = [
            get_attempt(uow, business_key=k).decline_code for k in ("k-new", "k-known", "k-paid")
        ]
    assert codes == ["general_transaction_error", "do_not_honour", None]
