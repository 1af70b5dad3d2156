"""What one sweep did, and the holds it left for a person."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from payflows.exactly_once.verdict import failure_rate, verdict

if TYPE_CHECKING:
    from payflows.sweep.items import Result

__all__ = ["MAX_LISTED", "SweepSummary", "UnresolvedHold", "count_result"]


#: In-run retries of a request the gateway said changed nothing (429, unreachable).
#: Unresolved holds listed in the summary (the count is always complete).
MAX_LISTED = 1000


class UnresolvedHold(BaseModel):
    """A hold the sweep could not resolve: a person should look at it before its deadline."""

    purchase_id: str
    action: str
    reason: str
    brand: str | None = None
    amount_cents: int
    currency: str
    expires_at: datetime


class SweepSummary(BaseModel):
    """What one sweep did. Amounts are integer cents per currency."""

    as_of: datetime
    worker_id: str
    selected: int = 0
    captured: int = 0
    partially_captured: int = 0
    voided: int = 0
    reconciled: int = 0
    expired: int = 0
    alerted: int = 0
    unknown: int = 0
    failed: int = 0
    #: Captured by this sweep, per currency.
    captured_cents: dict[str, int] = Field(default_factory=dict)
    #: Released to the shopper by this sweep (voids, and the rest of partial captures).
    released_cents: dict[str, int] = Field(default_factory=dict)
    unresolved: list[UnresolvedHold] = Field(default_factory=list)
    seconds: float = 0.0

    #: Due holds this sweep could not even look at, by reason (held by another live sweep...).
    left: dict[str, int] = Field(default_factory=dict)

    @property
    def unresolved_count(self) -> int:
        return self.expired + self.alerted + self.unknown + self.failed + sum(self.left.values())

    @property
    def complete(self) -> bool:
        """Every due hold was resolved (captured, voided or reconciled): nothing for a person."""
        return self.unresolved_count == 0

    @property
    def failure_rate(self) -> float:
        """Holds that failed or stayed unknown over the holds selected
        (:func:`~payflows.exactly_once.verdict.failure_rate`)."""
        return failure_rate(self.failed + self.unknown, self.selected)

    def problem(self, max_failure_rate: float | None = None) -> str | None:
        """None when every due hold was resolved; else why the sweep is not done."""
        left = dict(self.left)
        for name in ("expired", "alerted", "unknown", "failed"):
            if getattr(self, name):
                left[f"{name} (a person must look)"] = getattr(self, name)
        return verdict(
            "sweep", left, self.failure_rate, max_failure_rate, failures="failed or unknown"
        )

    @property
    def acted(self) -> int:
        return self.captured + self.partially_captured + self.voided


def count_result(summary: SweepSummary, result: Result) -> None:
    s, item = summary, result.item
    action = result.action
    if action is None:
        return
    cur = item.currency
    if action in ("captured", "partially_captured"):
        captured = result.amount_cents or 0
        s.captured_cents[cur] = s.captured_cents.get(cur, 0) + captured
        rest = item.authorised_cents - captured
        if rest > 0:
            s.released_cents[cur] = s.released_cents.get(cur, 0) + rest
        if action == "captured":
            s.captured += 1
        else:
            s.partially_captured += 1
    elif action == "voided":
        s.voided += 1
        s.released_cents[cur] = s.released_cents.get(cur, 0) + item.authorised_cents
    elif action == "reconciled":
        s.reconciled += 1
    else:
        setattr(s, action, getattr(s, action) + 1)
    if result.alert and len(s.unresolved) < MAX_LISTED:
        s.unresolved.append(
            UnresolvedHold(
                purchase_id=item.purchase_id,
                action=action,
                reason=result.reason[:200],
                brand=item.brand,
                amount_cents=item.authorised_cents,
                currency=cur,
                expires_at=item.expires_at,
            )
        )
