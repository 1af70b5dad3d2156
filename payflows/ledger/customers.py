"""Customers and their stored cards (payment methods): upserts that are safe to run twice."""

from __future__ import annotations

from sqlmodel import col, select

from payflows.domain.money import validate_currency
from payflows.ledger._common import cents, insert_for, masked, set_fields
from payflows.ledger.db import UnitOfWork
from payflows.ledger.errors import LedgerError
from payflows.ledger.models import Customer, PaymentMethod, utcnow

__all__ = ["upsert_customer", "upsert_payment_method"]


def upsert_customer(
    uow: UnitOfWork,
    external_id: str,
    *,
    precium_client_id: str | None = None,
    email: str | None = None,
    full_name: str | None = None,
    phone: str | None = None,
    country: str | None = None,
) -> Customer:
    """The customer with ``external_id``, created or updated; running it again changes nothing."""
    now = utcnow()
    uow.session.exec(
        insert_for(uow, Customer)
        .values(
            external_id=external_id,
            precium_client_id=precium_client_id,
            email=email,
            full_name=full_name,
            phone=phone,
            country=country,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["external_id"])
    )
    customer = uow.session.exec(
        select(Customer)
        .where(col(Customer.external_id) == external_id)
        .execution_options(populate_existing=True)
    ).one()
    set_fields(
        customer,
        now,
        precium_client_id=precium_client_id,
        email=email,
        full_name=full_name,
        phone=phone,
        country=country,
    )
    uow.session.flush()
    return customer


def upsert_payment_method(
    uow: UnitOfWork,
    recurring_token: str,
    *,
    customer_id: int,
    network_transaction_id: str | None = None,
    original_amount_cents: int | None = None,
    currency: str | None = None,
    brand: str | None = None,
    masked_pan: str | None = None,
    expiry_month: int | None = None,
    expiry_year: int | None = None,
) -> PaymentMethod:
    """The stored card for ``recurring_token``. A token never moves to another customer."""
    now = utcnow()
    if original_amount_cents is not None:
        cents(original_amount_cents, "original_amount_cents")
    currency = validate_currency(currency) if currency is not None else None
    fields = {
        "network_transaction_id": network_transaction_id,
        "original_amount_cents": original_amount_cents,
        "currency": currency,
        "brand": brand,
        "masked_pan": masked(masked_pan),
        "expiry_month": expiry_month,
        "expiry_year": expiry_year,
    }
    uow.session.exec(
        insert_for(uow, PaymentMethod)
        .values(
            recurring_token=recurring_token,
            customer_id=customer_id,
            created_at=now,
            updated_at=now,
            **fields,
        )
        .on_conflict_do_nothing(index_elements=["recurring_token"])
    )
    method = uow.session.exec(
        select(PaymentMethod)
        .where(col(PaymentMethod.recurring_token) == recurring_token)
        .execution_options(populate_existing=True)
    ).one()
    if method.customer_id != customer_id:
        raise LedgerError(
            f"payment method {method.id} belongs to customer {method.customer_id}, "
            f"not {customer_id}"
        )
    set_fields(method, now, **fields)
    uow.session.flush()
    return method
