"""Settlement figures on the attempt that owns a purchase: filled in, moved forward, never lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from payflows.ledger import AttemptKind, UnitOfWork, attach_purchase, get_attempt, record_intent
from payflows.ledger.settlement import SettlementReport, record_settlements

PAID_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def seed(engine: Engine, purchase_id: str) -> None:
    with UnitOfWork(engine) as uow:
        record_intent(uow, f"cit:{purchase_id}", AttemptKind.CIT, 10_000, "ZAR")
        attach_purchase(uow, f"cit:{purchase_id}", purchase_id)
        uow.commit()


def settle(engine: Engine, *reports: SettlementReport) -> list[str]:
    with UnitOfWork(engine) as uow:
        changed = record_settlements(uow, reports)
        uow.commit()
    return changed


def attempt(engine: Engine, purchase_id: str):
    with UnitOfWork(engine) as uow:
        return get_attempt(uow, purchase_id=purchase_id)


def test_figures_are_filled_in_then_kept(engine: Engine) -> None:
    seed(engine, "p-1")

    first = SettlementReport(
        "p-1", paid_cents=10_000, fee_cents=250, net_cents=9_750, paid_at=PAID_AT
    )
    assert settle(engine, first) == ["p-1"]
    assert settle(engine, first) == []  # the same report again changes nothing
    # A later report without the fee, with the settlement date: the fee stays, the date lands.
    later = SettlementReport("p-1", settled_at=PAID_AT + timedelta(days=2))
    assert settle(engine, later) == ["p-1"]
    # A second settlement date never replaces the first.
    assert settle(engine, SettlementReport("p-1", settled_at=PAID_AT + timedelta(days=9))) == []

    row = attempt(engine, "p-1")
    assert (row.paid_cents, row.fee_cents, row.net_cents) == (10_000, 250, 9_750)
    assert row.paid_at == PAID_AT and row.settled_at == PAID_AT + timedelta(days=2)
    assert row.state.value == "created" and row.purchase_status is None  # untouched


def test_unknown_purchases_and_empty_reports_are_ignored(engine: Engine) -> None:
    assert settle(engine, SettlementReport("nobody", paid_cents=1), SettlementReport("x")) == []


def test_bad_values_are_refused(engine: Engine) -> None:
    seed(engine, "p-2")
    with pytest.raises(TypeError):
        settle(engine, SettlementReport("p-2", fee_cents=2.5))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        settle(engine, SettlementReport("p-2", paid_at=datetime(2026, 12, 1)))


def test_the_card_is_kept_when_missing_and_a_pan_is_refused(engine: Engine) -> None:
    seed(engine, "p-3")

    assert settle(engine, SettlementReport("p-3", brand="visa", masked_pan="411111******1111"))
    assert settle(engine, SettlementReport("p-3", brand="mastercard")) == []  # kept, not replaced
    row = attempt(engine, "p-3")
    assert (row.brand, row.masked_pan) == ("visa", "411111******1111")
    seed(engine, "p-4")
    with pytest.raises(ValueError, match="full card number"):
        settle(engine, SettlementReport("p-4", masked_pan="4111111111111111"))
