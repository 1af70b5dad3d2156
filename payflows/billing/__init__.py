"""Subscription billing: schedules, dunning and the exactly-once billing run (Prefect-free)."""

from payflows.billing.clients import ensure_gateway_clients
from payflows.billing.dunning import Action, Decision, DunningPolicy
from payflows.billing.run import BillingSummary, bill_due, business_key, reconcile
from payflows.billing.schedule import CatchUp, add_interval, due_periods, period_key, period_to_bill

__all__ = [
    "Action",
    "BillingSummary",
    "CatchUp",
    "Decision",
    "DunningPolicy",
    "add_interval",
    "bill_due",
    "business_key",
    "due_periods",
    "ensure_gateway_clients",
    "period_key",
    "period_to_bill",
    "reconcile",
]
