"""The words the ledger uses: the kinds of attempts and the states of its rows, as ``StrEnum``.

Stored as plain strings (:class:`~payflows.ledger.columns.StrEnumType`); the purchase and
attempt states themselves belong to the domain (:mod:`payflows.domain.states`,
:mod:`payflows.domain.attempts`).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AttemptKind",
    "HoldDecision",
    "HoldPolicy",
    "IntervalUnit",
    "OneOffChargeStatus",
    "RefundStatus",
    "SubscriptionStatus",
]


class AttemptKind(StrEnum):
    ZERO_AUTH = "zero_auth"  # card verification for a zero amount
    PREAUTH = "preauth"  # a hold (skip_capture)
    CIT = "cit"  # customer-initiated payment, captured at once
    MIT = "mit"  # merchant-initiated charge with a recurring token
    CAPTURE = "capture"
    VOID = "void"  # release (or cancel) of a hold
    CANCEL = "cancel"  # cancel of an unpaid or uncleared purchase
    REFUND = "refund"
    REFUND_CANCEL = "refund_cancel"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"


class IntervalUnit(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class HoldDecision(StrEnum):
    NONE = "none"
    CAPTURE = "capture"
    VOID = "void"


class HoldPolicy(StrEnum):
    """What the sweep does with an undecided hold that reaches its act-by time."""

    CAPTURE = "capture"  # capture in full
    VOID = "void"
    ALERT = "alert"  # leave it and ask a person


class OneOffChargeStatus(StrEnum):
    PLANNED = "planned"
    CHARGED = "charged"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    CANCELLED = "cancelled"
    FAILED = "failed"
