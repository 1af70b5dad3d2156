"""What a billing run did and left, and the business keys it charges under."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from payflows.billing.schedule import period_key
from payflows.exactly_once.verdict import failure_rate, verdict

__all__ = ["MAX_LISTED", "BillingSummary", "business_key", "count", "expected_key"]

#: Items left unresolved listed by key in the summary (the counts are always complete).
MAX_LISTED = 100


class BillingSummary(BaseModel):
    """What one run did. Amounts are integer cents per currency (paid charges only).

    The counts and amounts cover subscription periods and one-off charges together;
    ``one_off_*`` is the one-off share. ``suspended`` and ``skipped_periods`` are about
    subscriptions, ``one_off_failed`` counts the one-off charges given up in this run.
    ``dunning_reasons`` counts why subscriptions went past due or suspended, and why one-off
    charges were scheduled for a retry or failed, in this run.
    """

    as_of: datetime
    worker_id: str
    reconciled: int = 0
    #: Gateway clients created first for customers who had none (imported ones).
    clients_created: int = 0
    claimed: int = 0
    charged: int = 0
    succeeded: int = 0
    declined: int = 0
    unknown: int = 0
    failed: int = 0
    retry_scheduled: int = 0
    suspended: int = 0
    skipped_periods: int = 0
    amounts_cents: dict[str, int] = Field(default_factory=dict)
    declines_by_code: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    dunning_reasons: dict[str, int] = Field(default_factory=dict)
    one_off_claimed: int = 0
    one_off_succeeded: int = 0
    one_off_declined: int = 0
    one_off_retry_scheduled: int = 0
    one_off_failed: int = 0
    one_off_amounts_cents: dict[str, int] = Field(default_factory=dict)

    #: Same-purchase re-charges after a 5xx or lost answer whose read-back showed it unpaid.
    resent: int = 0
    #: Due work this run could not resolve, by reason ("outcome unknown: read back next run",
    #: "held by a live run", "no gateway client"...); the run is not complete while any is left.
    left: dict[str, int] = Field(default_factory=dict)
    #: Business keys (or subscription ids) of what was left, with the reason (first 100).
    left_items: list[str] = Field(default_factory=list)

    @property
    def settled(self) -> int:
        return self.succeeded + self.declined + self.failed

    @property
    def left_count(self) -> int:
        return sum(self.left.values())

    @property
    def complete(self) -> bool:
        """Nothing due was left unresolved by this run."""
        return self.left_count == 0

    @property
    def failure_rate(self) -> float:
        """Declined, refused and unknown charges over the charges this run settled or left
        unknown (:func:`~payflows.exactly_once.verdict.failure_rate`)."""
        bad = self.declined + self.failed + self.unknown
        return failure_rate(bad, self.settled + self.unknown)

    def problem(self, max_failure_rate: float | None = None) -> str | None:
        """None when the run may report success; else why not (see :func:`verdict`)."""
        return verdict("billing run", self.left, self.failure_rate, max_failure_rate)

    def leave(self, reason: str, what: str) -> None:
        """Record one due item left unresolved, and why."""
        self.left[reason] = self.left.get(reason, 0) + 1
        if len(self.left_items) < MAX_LISTED:
            self.left_items.append(f"{what}: {reason}")


def business_key(subscription_id: int, period: str, failed_attempts: int = 0) -> str:
    """``sub:{id}:{period}``, then ``sub:{id}:{period}:try{n}`` for the n-th dunning attempt.

    A retry gets a new key (its own purchase) only once the previous attempt is resolved as
    declined: the key is derived from the subscription's ``failed_attempts``, which moves in the
    same commit as that decline.
    """
    base = f"sub:{subscription_id}:{period}"
    return base if failed_attempts == 0 else f"{base}:try{failed_attempts + 1}"


def expected_key(sub: Any) -> str:
    assert sub.id is not None
    return business_key(sub.id, period_key(sub.next_billing_at), sub.failed_attempts)


def count(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n
