"""One-off charges (imported invoice lines): a plan stored once, frozen once charging starts."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from payflows.domain.money import validate_currency
from payflows.ledger._common import cents, insert_for, set_fields
from payflows.ledger.db import UnitOfWork
from payflows.ledger.errors import LedgerError
from payflows.ledger.models import OneOffCharge, OneOffChargeStatus, utcnow

__all__ = ["get_one_off_charge", "upsert_one_off_charge"]


def upsert_one_off_charge(
    uow: UnitOfWork,
    external_id: str,
    *,
    customer_id: int,
    payment_method_id: int,
    amount_cents: int,
    currency: str,
    description: str,
    charge_on: date,
) -> OneOffCharge:
    """The planned one-off charge ``external_id``; a charged or cancelled one cannot change,
    nor one the billing run has started to charge (``attempt_id`` set: the amount stands)."""
    now = utcnow()
    cents(amount_cents)
    currency = validate_currency(currency)
    uow.session.exec(
        insert_for(uow, OneOffCharge)
        .values(
            external_id=external_id,
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            amount_cents=amount_cents,
            currency=currency,
            description=description,
            charge_on=charge_on,
            status=OneOffChargeStatus.PLANNED,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["external_id"])
    )
    charge = get_one_off_charge(uow, external_id)
    assert charge is not None
    if charge.customer_id != customer_id:
        raise LedgerError(f"one-off charge {external_id} belongs to another customer")
    fields = {
        "payment_method_id": payment_method_id,
        "amount_cents": amount_cents,
        "currency": currency,
        "description": description,
        "charge_on": charge_on,
    }
    if charge.status is not OneOffChargeStatus.PLANNED or charge.attempt_id is not None:
        if any(getattr(charge, name) != value for name, value in fields.items()):
            state = "being charged" if charge.status is OneOffChargeStatus.PLANNED else None
            raise LedgerError(
                f"one-off charge {external_id} is {state or charge.status.value}; "
                "it can no longer change"
            )
    else:
        set_fields(charge, now, **fields)
    uow.session.flush()
    return charge


def get_one_off_charge(uow: UnitOfWork, external_id: str) -> OneOffCharge | None:
    return uow.session.exec(
        select(OneOffCharge)
        .where(col(OneOffCharge.external_id) == external_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
