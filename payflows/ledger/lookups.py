"""Small reads of the ledger that the Prefect tasks need: stored cards, holds, subscriptions.

Kept in the core so the tasks hold no SQL. Each returns None when nothing matches; the caller
decides whether that is a refusal.
"""

from __future__ import annotations

from sqlmodel import select

from payflows.ledger.db import UnitOfWork
from payflows.ledger.models import Customer, Hold, PaymentMethod, Subscription

__all__ = [
    "customer_by_id",
    "hold_of_purchase",
    "payment_method_by_id",
    "payment_method_by_token",
    "stored_card_of_customer",
    "subscription_by_external_id",
]


def customer_by_id(uow: UnitOfWork, customer_id: int) -> Customer | None:
    return uow.session.get(Customer, customer_id)


def payment_method_by_id(uow: UnitOfWork, payment_method_id: int) -> PaymentMethod | None:
    return uow.session.get(PaymentMethod, payment_method_id)


def payment_method_by_token(uow: UnitOfWork, recurring_token: str) -> PaymentMethod | None:
    return uow.session.exec(
        select(PaymentMethod).where(PaymentMethod.recurring_token == recurring_token)
    ).first()


def stored_card_of_customer(
    uow: UnitOfWork, customer_external_id: str, recurring_token: str
) -> PaymentMethod | None:
    """The stored card ``recurring_token`` when it belongs to that customer (deleted or not)."""
    method = payment_method_by_token(uow, recurring_token)
    owner = uow.session.exec(
        select(Customer).where(Customer.external_id == customer_external_id)
    ).first()
    if method is None or owner is None or method.customer_id != owner.id:
        return None
    return method


def hold_of_purchase(uow: UnitOfWork, purchase_id: str) -> Hold | None:
    return uow.session.exec(select(Hold).where(Hold.purchase_id == purchase_id)).first()


def subscription_by_external_id(uow: UnitOfWork, external_id: str) -> Subscription | None:
    return uow.session.exec(
        select(Subscription).where(Subscription.external_id == external_id)
    ).first()
